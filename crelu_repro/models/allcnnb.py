"""All-CNN-B for ImageNet (Springenberg et al. 2014), as in the slides' "ImageNet" tables.

Kernels and filters are the slides'. Strides and padding are not printed; we take Springenberg's
(stride 4 at conv1, stride-2 3x3 convs in place of pooling at conv3, conv6, conv9) and choose padding so
that a 224x224 crop (our crop size) reaches the 6x6 map of the global 6x6 average pool:
224 -conv1 (p2)-> 55 -conv3 (s2)-> 27 -conv6 (s2)-> 13 -conv9 (s2)-> 6, "same" padding elsewhere.
conv1's padding 2 is torchvision AlexNet's choice for 224 (AlexNet used 227 with none).
"""

from .builder import CLASSES, Conv, Pool

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
