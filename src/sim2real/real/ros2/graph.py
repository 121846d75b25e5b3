"""Who listens on the ROS 2 graph: whether a command or a safe stop published now would reach a
driver (a subscriber that is no recorder, CLI or viewer, and whose QoS our publisher can reach)."""

from __future__ import annotations

from typing import Any

__all__ = ["ONLOOKERS", "UNKNOWN_NODE", "unheard"]

ONLOOKERS = ("rosbag2", "ros2cli", "ros2_bag", "foxglove", "rqt", "rviz", "plotjuggler")
"""Node-name prefixes of subscribers that record or show a topic, never act on it (``ros2 bag
record``, ``ros2 topic echo``, Foxglove's bridge, rqt, RViz, PlotJuggler; a leading underscore, as
the CLI's hidden nodes have, ignored): they do not count as a driver listening."""

UNKNOWN_NODE = "_NODE_NAME_UNKNOWN_"
"""The node name the ROS 2 graph gives an endpoint whose node it has not discovered yet."""


def _onlooker(name: str) -> bool:
    return name.lstrip("_").startswith(ONLOOKERS)


def subscribers(node: Any, topic: str) -> list[tuple[str, str | None]]:
    """The nodes subscribed to ``topic``, each with why ``node``'s publisher on it cannot reach it
    (None: it can).  A best-effort publisher never matches a reliable subscription, nor one without a
    deadline a subscription with one: nothing arrives, and rcl only warns.  Our publisher's QoS is
    taken as the graph resolved it (its own profile leaves system defaults unresolved)."""
    from rclpy.qos import QoSCompatibility, qos_check_compatible

    resolved = node.resolve_topic_name(topic)
    ours = [
        i.qos_profile
        for i in node.get_publishers_info_by_topic(resolved)
        if (i.node_name, i.node_namespace) == (node.get_name(), node.get_namespace())
    ]
    found: list[tuple[str, str | None]] = []
    for info in node.get_subscriptions_info_by_topic(resolved):
        if not ours:
            found.append((info.node_name, "our publisher is not discovered yet"))
            continue
        compatible, reason = qos_check_compatible(ours[0], info.qos_profile)
        why = (reason or "").split(";")[0].removeprefix("ERROR: ").strip() or "incompatible QoS"
        found.append((info.node_name, why if compatible == QoSCompatibility.ERROR else None))
    return found


def listeners(node: Any, topic: str) -> list[str]:
    """The subscribers of ``topic`` that may be a driver: not a recorder, a CLI or a viewer, known by
    name (discovery reports an endpoint before its node: ``_NODE_NAME_UNKNOWN_``, which may be a
    recorder; counted once its name is known), and with a QoS ``node``'s publisher can reach."""
    return [
        n
        for n, why in subscribers(node, topic)
        if n and n != UNKNOWN_NODE and not _onlooker(n) and why is None
    ]


def _others(node: Any, topic: str) -> str:
    """What else subscribes to a topic no driver listens to, for the user's line."""
    found = subscribers(node, topic)
    unmatched = sorted({f"{n} ({why})" for n, why in found if why is not None and not _onlooker(n)})
    if unmatched:
        return f" that our QoS can reach: {', '.join(unmatched)} cannot receive what we publish (ros2 config QoS)"
    seen = sorted({n for n, _ in found if _onlooker(n)})
    return f" (only {', '.join(seen)}, which record or show it)" if seen else ""


def unheard(node: Any, command_topic: str, safe_mode_topic: str | None) -> str | None:
    """Why a command or a safe stop published by ``node`` would reach no driver now, or None when
    both are heard (``safe_mode_topic`` None: the robot has none).  One line for the user.  A
    subscriber is no proof that the driver acts on the message: it is the check a graph allows."""
    if not listeners(node, command_topic):
        return f"no driver subscribes to the command topic {command_topic}{_others(node, command_topic)}"
    if safe_mode_topic is not None and not listeners(node, safe_mode_topic):
        return (
            f"no driver subscribes to the safe-mode topic {safe_mode_topic}{_others(node, safe_mode_topic)}: a safe "
            "stop would not reach the robot (its driver must enter safe mode on True there; without that topic set "
            "safe_mode_topic: null and safe_values_on_command_topic: true)"
        )
    return None
