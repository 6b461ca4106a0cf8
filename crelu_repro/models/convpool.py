"""ConvPool-CNN-C (Springenberg et al. 2014) on CIFAR, as in the slides' "CIFAR-10 and 100" tables."""

from .builder import CLASSES, Conv, Pool, Variant

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

VARIANTS = {
    "relu": Variant(
        "convpool",
        note="the paper's ConvPool-CNN-C counts are rounded multiples of 1.4M; its layer table gives 1.29M",
    ),
    "double": Variant("convpool", widths={"conv1-7": 2.0}),
    # The slides show no AVR table; AVR replaces ReLU where CReLU does (conv1-7), conv8 stays ReLU.
    "avr": Variant("convpool", acts={"conv1-7": "avr"}),
    # CReLU keeps each layer's filter count, so its output maps (and the next layer's input) double.
    "crelu": Variant("convpool", acts={"conv1-7": "crelu"}),
    # Built literally from the slides' "CRelu (half)" table: half the filters everywhere, except conv3
    # which the table prints as 3x3x96x48 (a quarter of 192; conv4's input 96 agrees). conv8's input
    # is printed 92, a typo for 192. The result has ~0.52M conv weights (0.40x ReLU), not 0.7M.
    "crelu_half": Variant(
        "convpool",
        acts={"conv1-7": "crelu"},
        widths={"conv1-7": 0.5, "conv3": 0.25},
        note="conv3 built literally from the slides (48 filters): 0.52M conv weights, paper prints 0.7M",
    ),
}
