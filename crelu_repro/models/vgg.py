"""VGG-style network for CIFAR: 13 conv + 2 fully connected layers.

The slides give no layer table; this is the CIFAR VGG-16 layout the paper's description matches
(Zagoruyko's cifar.torch, used by many CIFAR papers of 2015-16): 3x3 convs with padding 1,
[64,64,M,128,128,M,256x3,M,512x3,M,512x3,M], then FC 512 and the classifier. The 2x2 max pools bring
32x32 to 1x1. Dropout 0.5 before each FC layer is ours (cifar.torch's), the fully connected layers
overfit CIFAR without it. CReLU layers keep their filter counts (tables.yaml): their maps double.
"""

from .builder import CLASSES, Conv, Dropout, Linear, Pool


def _stage(filters: int, convs: int) -> tuple:
    return (*(Conv(filters, 3, 1, 1) for _ in range(convs)), Pool("max", 2, 2))


VGG_13C_2FC = (
    *_stage(64, 2),  # conv1-2
    *_stage(128, 2),  # conv3-4
    *_stage(256, 3),  # conv5-7
    *_stage(512, 3),  # conv8-10
    *_stage(512, 3),  # conv11-13
    Dropout(0.5),
    Linear(512),  # fc14
    Dropout(0.5),
    Linear(CLASSES),  # fc15: the classifier
)
