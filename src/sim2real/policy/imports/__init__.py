"""Importers of policies trained elsewhere (``sim2real import``): each turns another framework's
files into ``DIR/robot.yaml`` + ``DIR/policy.onnx`` that everything downstream takes unchanged.

================  ==================================================================================
module            owns
================  ==================================================================================
common            :class:`ForeignPolicy` (a foreign policy in sim2real's terms) and
                  :func:`write_import` (spec through robot init, metadata, parity check, files)
legged_gym        legged_gym / unitree_rl_gym TorchScript + MuJoCo deploy config
legged_gym_cfg    legged_gym's own sectioned configuration (``LeggedRobotCfg`` as YAML) read as the
                  flat keys of a deploy config
humanoid_gym      humanoid-gym's (XBot) observation: its frame as observation terms (Euler angles
                  last), the frames it stacks, what cannot be built
config_joints     the policy joints of a legged_gym config (positional, or named: joint_names,
                  maps by joint name), and the hold of the joints the policy does not drive
isaaclab          Isaac Lab / unitree_rl_lab / mjlab ONNX + ``params/deploy.yaml`` or ONNX metadata
isaaclab_env      Isaac Lab's own run parameters (``params/env.yaml``) read as the deploy.yaml they
                  imply
isaaclab_io       Isaac Lab's IO descriptors (``export_io_descriptors``) read as the deploy.yaml they
                  imply
isaaclab_terms    the observation terms of Isaac Lab, unitree_rl_lab and mjlab exports: names, size
                  of one frame, scale and clip, the velocity command ranges that clip the command
mjlab_meta        mjlab's ONNX metadata (``attach_onnx_metadata``) read as an import's facts, and
                  checked against a deploy.yaml given beside it
joint_order       the policy joints of a deploy.yaml's ``joint_ids_map``, and the order of the
                  model's joints they are in when no file names them
held              a policy that drives some of the joints it observes: the undriven ones held at
                  their default position by their PD (the spec's ``action.hold``)
torchscript       legged_gym, Isaac Lab and rsl_rl ``as_jit()`` TorchScript rebuilt as ONNX (needs torch)
rsl_checkpoint    rsl_rl training checkpoints (``model_<N>.pt``, rsl_rl 1.x-5.x): the actor rebuilt from
                  its weights; :func:`load_torch_policy` takes either kind of ``.pt`` (needs torch)
graph             foreign ONNX graphs: external weights, input/output names, recurrent state pairs
config_files      YAML written by other frameworks (Python tags read as plain data); a run's params/
                  files beside its export
================  ==================================================================================
"""
