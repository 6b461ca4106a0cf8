"""ConvPool-CNN-C (Springenberg et al. 2014) on CIFAR, as in the slides' "CIFAR-10 and 100" tables."""

from .builder import CLASSES, Conv, Pool

# kernel, stride, padding as printed. Two choices the slides force (tables.yaml notes):
# - pool1/pool2 are 3x3/2 max pools in ceil mode: 32 -> 16 -> 8, the only way to reach 10x10 at pool3;
# - conv7 (1x1) keeps padding 1 as printed, which grows the map 8 -> 10.
# pool3 is the 10x10 average over the whole 10x10 map: a global average (so other input sizes work).
# BN and Dropout are not in the slides; BN is added by the builder (model.batchnorm).
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
