"""Real-world fine-tuning: residual adapters trained by reward-weighted behaviour cloning from logs.

================  ==================================================================================
module            owns
================  ==================================================================================
adapter           residual adapter beside the frozen base (zero start, bounded)
base              a deployed ONNX policy file rebuilt in PyTorch, checked
explore           exploration noise for data-collection runs (numpy + onnxruntime)
data              deploy logs -> episodes (observations, executed actions, rewards), replay buffer
weights           AWR and return-softmax sample weights (numpy)
trainer           trains the adapter only
export            base + adapter as one policy file with provenance
pipeline          policy file + logs -> fine-tuned file (``sim2real finetune``)
iterate           deploy -> log -> fine-tune rounds on the twin
================  ==================================================================================

The modules that train or rebuild networks need the ``train`` extra (torch); ``explore``, ``data``
and ``weights`` need numpy, onnxruntime and the task terms only.
"""
