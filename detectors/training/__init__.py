"""Training your own reasoning-based bias detector (the ``debias train`` pipeline).

Steps (each a function and a ``debias train`` sub-command; each appends JSONL as it goes
and skips finished ids when re-run):

1. :func:`~detectors.training.construct.construct`: clean items -> D / D_bias pairs.
2. :func:`~detectors.training.collect.collect`: a judge's verdicts on both sides and
   the derived gold bias label (:func:`~debias.datasets.rbd.rbd_bias_label`).
3. :func:`~detectors.training.teacher.teach`: teacher reasoning traces in the RBD
   detector format, kept only when they agree with the gold label.
4. :func:`~detectors.training.finetune.finetune`: LoRA (QLoRA on GPUs with bitsandbytes)
   fine-tuning with the loss on the response only; adapter + card.
5. :func:`~detectors.training.evaluate.evaluate`: accuracy / precision / recall / F1 of
   the adapter as the reasoning detector.

torch, transformers and peft are imported only by the fine-tuning and evaluation code.
"""

from detectors.training.collect import collect, judge_pair
from detectors.training.config import TrainConfig, make_config
from detectors.training.construct import ConstructConfig, construct, construct_pair
from detectors.training.evaluate import evaluate
from detectors.training.finetune import finetune, train_lora
from detectors.training.records import BiasPair, JudgedPair, TeacherTrace, TrainExample
from detectors.training.sources import load_examples
from detectors.training.teacher import TeacherConfig, teach

__all__ = [
    "BiasPair",
    "ConstructConfig",
    "JudgedPair",
    "TeacherConfig",
    "TeacherTrace",
    "TrainConfig",
    "TrainExample",
    "collect",
    "construct",
    "construct_pair",
    "evaluate",
    "finetune",
    "judge_pair",
    "load_examples",
    "make_config",
    "teach",
    "train_lora",
]
