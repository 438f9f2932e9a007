"""The PyTorch twin of normkit.models.make_model('vgg', 'bn', depth=D): a
torch.nn.Sequential of the same layers under the same state-dict keys, for
tests/python/test_vgg.py and bench/train_step.py. The 4-convolution one (32,
32, pool, 64, 64, pool, 3136-128-10) is the network of the README's CNN
recipe."""

import torch


def vgg_stages(depth):
    """Convolutions per stage, as train/models.cpp's make_vgg splits them."""
    if depth <= 4:
        return [(depth + 1) // 2, depth // 2]
    first = (depth + 2) // 3
    second = (depth - first + 1) // 2
    return [first, second, depth - first - second]


def torch_vgg(depth, norm="bn", width=1):
    """Plain 3x3 convolutions (no bias before BN) with BatchNorm2d and ReLU,
    2x2 max pooling after the first two stages, then 128 hidden units."""
    assert norm in ("bn", "none")
    layers, channels, size = [], 1, 28
    for stage, convolutions in enumerate(vgg_stages(depth)):
        out = (32 << stage) * width
        for _ in range(convolutions):
            layers.append(torch.nn.Conv2d(channels, out, 3, padding=1, bias=norm == "none"))
            if norm == "bn":
                layers.append(torch.nn.BatchNorm2d(out))
            layers.append(torch.nn.ReLU())
            channels = out
        if stage < 2:
            layers.append(torch.nn.MaxPool2d(2))
            size //= 2
    layers += [torch.nn.Flatten(), torch.nn.Linear(channels * size * size, 128), torch.nn.ReLU(),
               torch.nn.Linear(128, 10)]
    return torch.nn.Sequential(*layers)
