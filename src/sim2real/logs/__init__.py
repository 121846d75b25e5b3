"""Robot logs: the :class:`Trajectory` model, rosbag2/MCAP read and write, ROS 1 bags read, CSV import.

Numpy and rosbags only (no torch, no mujoco): robot computers import this.

==================  ================================================================================
module              owns
==================  ================================================================================
trajectory          :class:`Trajectory`: joint states, commands, IMU samples and events of one run
bag                 rosbag2 directories with MCAP storage: :class:`BagWriter`, :func:`read_bag`
bag_streams         a bag's decoded messages made into one Trajectory
bag_states          joint states on one clock, in order, joined by name; the command joints
bag_topics          which topics hold the joint states, commands and IMU (--topic)
bag_values          joint-state and command values that are not a number: velocities differentiated,
                    efforts filled, 0 or unread, commands held
bag_joined          joint states on several topics (one driver per leg or bus) joined, each joint from
                    one topic
bag_publishers      a second publisher of the same joints on /joint_states: told apart or refused
bag_unitree         Unitree LowState/LowCmd bags: motor order (--motor-order), stop values,
                    bag-carried types
bag_directory       a bag directory on disk: metadata.yaml kept current while writing, opening
                    killed bags
bag_ros1            ROS 1 .bag files: opening them, their errors, ROS 1 decoding,
                    unitree_legged_msgs
bag_ros1_scan       ROS 1 bags without an index (recorder killed, cut short): their records walked
bag_ros2            rosbag2 storage files as one reader: split bags, zstd-compressed files and
                    messages
bag_split           a finished split bag's parts as metadata.yaml lists them: found, missing ones
                    judged (a hole: error; an end: warning), read in time order
odometry            floating-base states (nav_msgs/Odometry) to and from :class:`BaseTrack`
mcap_storage        a crash-safe MCAP storage backend, and recovery of cut files
mcap_chunk          the complete records of an MCAP chunk the file's end cuts (uncompressed, zstd, lz4)
csv_import          CSV logs from other labs through an explicit column map
csv_fields          a CSV's decimal commas and ISO 8601 date-times made plain numbers
csv_map_file        a column map written by the user as a YAML file
csv_units           a CSV's units row checked against the map, a time column that cannot be seconds
csv_floating_base   a CSV's IMU columns and base track (a legged robot's log)
derivative          velocities from sampled positions
==================  ================================================================================
"""

from sim2real.logs.bag import BagWriter, read_bag, write_bag
from sim2real.logs.csv_import import (
    PENDULUM_CSV,
    QUBE_CSV,
    ColumnMap,
    load_real_pendulum,
    load_real_qube,
    read_csv,
)
from sim2real.logs.trajectory import Event, Trajectory

__all__ = [
    "PENDULUM_CSV",
    "QUBE_CSV",
    "BagWriter",
    "ColumnMap",
    "Event",
    "Trajectory",
    "load_real_pendulum",
    "load_real_qube",
    "read_bag",
    "read_csv",
    "write_bag",
]
