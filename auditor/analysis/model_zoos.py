"""Third-party model libraries whose constructors and factories build a new torch module.

Library knowledge, like torchvision's and timm's: `smp.Unet(...)`,
`EfficientNet.from_pretrained(...)`, `cnn_finetune.make_model(...)` return an `nn.Module`,
in training mode as every module is when built (none of them calls `eval()`). Kept apart
from `roles` so the list can grow without touching the role queries.
"""

from __future__ import annotations

from typing import Optional

# Packages whose public classes are torch modules: a capitalised name constructs a model.
_CLASS_PACKAGES = ("segmentation_models_pytorch.", "monai.networks.nets.", "vit_pytorch.",
                   "efficientnet_pytorch.", "pretrainedmodels.models.")
# Factories (and classmethods) that return a newly built module.
_FACTORIES = frozenset({
    "cnn_finetune.make_model",
    "torchvision.models.get_model",
    "segmentation_models_pytorch.create_model",
    "efficientnet_pytorch.EfficientNet.from_pretrained",
    "efficientnet_pytorch.EfficientNet.from_name",
    "pytorchcv.model_provider.get_model",
})
# Functions of `pretrainedmodels` that are not model builders.
_PRETRAINEDMODELS_NOT_MODELS = ("pretrainedmodels.utils", "pretrainedmodels.datasets")


def zoo_model(qualified: Optional[str]) -> Optional[str]:
    """The model a qualified call of a model library builds (its last name), else None."""
    if not qualified:
        return None
    last = qualified.rsplit(".", 1)[-1]
    if qualified in _FACTORIES:
        return qualified.split(".", 1)[0] + " model"
    if qualified.startswith(_CLASS_PACKAGES) and last[:1].isupper() and qualified.count(".") <= 3:
        return last
    # `pretrainedmodels.se_resnext50_32x4d(num_classes=1000, pretrained="imagenet")`
    if qualified.startswith("pretrainedmodels.") and qualified.count(".") == 1 and last[:1].islower() \
            and not qualified.startswith(_PRETRAINEDMODELS_NOT_MODELS) and not last.startswith("_"):
        return last
    return None
