"""The paper's three families as layer tables, one tuple each (as torchvision's vgg.py keeps `cfgs`):
`FAMILIES[name]` is what `model.family` names. Kernel, stride, padding per row; `CLASSES` stands for the
class count. BN and the activations are not in the tables: the builder adds them from the variant.
"""

from __future__ import annotations

from .builder import CLASSES, Conv, Dropout, Linear, Pool, Row

# ConvPool-CNN-C (Springenberg et al. 2014) on CIFAR, the slides' "CIFAR-10 and 100" tables, as printed.
# Two choices the slides force (tables.yaml notes):
# - pool1/pool2 are 3x3/2 max pools in ceil mode: 32 -> 16 -> 8, the only way to reach 10x10 at pool3;
# - conv7 (1x1) keeps padding 1 as printed, which grows the map 8 -> 10.
# pool3 is the 10x10 average over the whole 10x10 map: a global average (so other input sizes work).
CONVPOOL_CNN_C = (
    Conv(96, 3, 1, 1),  # conv1
    Conv(96, 3, 1, 1),  # conv2
    Pool("max", 3, 2, 0, ceil_mode=True),  # pool1
    Conv(192, 3, 1, 1),  # conv3
    Conv(192, 3, 1, 1),  # conv4
    Conv(192, 3, 1, 1),  # conv5
    Pool("max", 3, 2, 0, ceil_mode=True),  # pool2
    Conv(192, 3, 1, 1),  # conv6
    Conv(192, 1, 1, 1),  # conv7
    Conv(CLASSES, 1, 1, 0),  # conv8: ReLU in the slides' table, kept literally
    Pool("global_avg"),  # pool3
)


def _vgg_stage(filters: int, convs: int) -> tuple:
    return (*(Conv(filters, 3, 1, 1) for _ in range(convs)), Pool("max", 2, 2))


# VGG-style network for CIFAR: 13 conv + 2 fully connected layers. The slides give no layer table; this is
# the CIFAR VGG-16 layout the paper's description matches (Zagoruyko's cifar.torch, used by many CIFAR
# papers of 2015-16): 3x3 convs with padding 1, [64,64,M,128,128,M,256x3,M,512x3,M,512x3,M], then FC 512
# and the classifier. The 2x2 max pools bring 32x32 to 1x1. Dropout 0.5 before each FC layer is ours
# (cifar.torch's): the fully connected layers overfit CIFAR without it. CReLU layers keep their filter
# counts (tables.yaml): their maps double.
VGG_13C_2FC = (
    *_vgg_stage(64, 2),  # conv1-2
    *_vgg_stage(128, 2),  # conv3-4
    *_vgg_stage(256, 3),  # conv5-7
    *_vgg_stage(512, 3),  # conv8-10
    *_vgg_stage(512, 3),  # conv11-13
    Dropout(0.5),
    Linear(512),  # fc14
    Dropout(0.5),
    Linear(CLASSES),  # fc15: the classifier
)

# All-CNN-B for ImageNet (Springenberg et al. 2014), the slides' "ImageNet" tables. Kernels and filters
# are the slides'. Strides and padding are not printed; we take Springenberg's (stride 4 at conv1,
# stride-2 3x3 convs in place of pooling at conv3, conv6, conv9) and choose padding so that a 224x224 crop
# (our crop size) reaches the 6x6 map of the global 6x6 average pool:
# 224 -conv1 (p2)-> 55 -conv3 (s2)-> 27 -conv6 (s2)-> 13 -conv9 (s2)-> 6, "same" padding elsewhere.
# conv1's padding 2 is torchvision AlexNet's choice for 224 (AlexNet used 227 with none).
ALL_CNN_B = (
    Conv(96, 11, 4, 2),  # conv1: 224 -> 55
    Conv(96, 1, 1, 0),  # conv2
    Conv(96, 3, 2, 0),  # conv3: 55 -> 27
    Conv(256, 5, 1, 2),  # conv4
    Conv(256, 1, 1, 0),  # conv5
    Conv(256, 3, 2, 0),  # conv6: 27 -> 13
    Conv(384, 3, 1, 1),  # conv7
    Conv(384, 1, 1, 0),  # conv8
    Conv(384, 3, 2, 0),  # conv9: 13 -> 6
    Conv(1024, 3, 1, 1),  # conv10
    Conv(1024, 1, 1, 0),  # conv11
    Conv(CLASSES, 1, 1, 0, act="linear"),  # conv12: "Linear" in the slides
    Pool("global_avg"),  # the 6x6 average pool
)

FAMILIES: dict[str, tuple[Row, ...]] = {"convpool": CONVPOOL_CNN_C, "vgg": VGG_13C_2FC, "allcnnb": ALL_CNN_B}
