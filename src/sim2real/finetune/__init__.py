"""Real-world fine-tuning: residual adapters trained by reward-weighted behaviour cloning from logs.

- :mod:`~sim2real.finetune.adapter`  residual adapter beside the frozen base (zero start, bounded)
- :mod:`~sim2real.finetune.base`     a deployed ONNX policy file rebuilt in PyTorch, checked
- :mod:`~sim2real.finetune.explore`  exploration noise for data-collection runs (numpy + onnxruntime)
- :mod:`~sim2real.finetune.data`     deploy logs -> episodes (observations, executed actions, rewards), replay buffer
- :mod:`~sim2real.finetune.weights`  AWR and return-softmax sample weights (numpy)
- :mod:`~sim2real.finetune.trainer`  trains the adapter only
- :mod:`~sim2real.finetune.export`   base + adapter as one policy file with provenance
- :mod:`~sim2real.finetune.pipeline` policy file + logs -> fine-tuned file (``sim2real finetune``)
- :mod:`~sim2real.finetune.iterate`  deploy -> log -> fine-tune rounds on the twin

The modules that train or rebuild networks need the ``train`` extra (torch); ``explore``, ``data``
and ``weights`` need numpy, onnxruntime and the task terms only.
"""
