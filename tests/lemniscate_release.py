"""Release-style lemniscate files for the tests, in PyTorch: the ResNets of the release's ``models/resnet.py``
(same module names and nesting), its ``lib.NCEAverage.NCEAverage`` memory module (pickled under that global
name) and its ``main.py`` checkpoint dict (DataParallel ``module.`` keys) saved by ``torch.save``.

Import after ``pytest.importorskip("torch")``. One deliberate difference: the average pool is
``AvgPool2d(size // 32)`` so that small test images reach it; at 224 px that is the release's ``AvgPool2d(7)``.
"""
import math
import sys
import types

import numpy as np
import torch
import torch.nn.backends.thnn
from torch import nn

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = _conv3x3(inplanes, planes, stride), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False), nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Normalize(nn.Module):
    def forward(self, x):
        return x / x.pow(2).sum(1, keepdim=True).pow(0.5)


class ResNet(nn.Module):
    def __init__(self, block, layers, low_dim=128, size=224):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(64), nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AvgPool2d(size // 32, stride=1)
        self.fc = nn.Linear(512 * block.expansion, low_dim)
        self.l2norm = Normalize()

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1,
                                                 stride=stride, bias=False), nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.l2norm(self.fc(x.view(x.size(0), -1)))


ARCHS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet50": (Bottleneck, [3, 4, 6, 3])}


class AliasMethod(object):
    """The release's uniform sampler object (its tables only)."""

    def __init__(self, n):
        self.prob, self.alias = torch.ones(n), torch.zeros(n, dtype=torch.long)


class _Thnn(object):
    """PyTorch 0.4's ``nn.Module._backend``, which pickles as ``torch.nn.backends.thnn._get_thnn_function_backend()``."""

    def __reduce__(self):
        return torch.nn.backends.thnn._get_thnn_function_backend, ()


class NCEAverage(nn.Module):
    """The release's memory module: ``params`` = [K, T, Z, momentum], ``memory`` [N, D] (and, as PyTorch 0.4
    modules, a ``_backend``)."""

    def __init__(self, dim, n_data, K, T=0.07, momentum=0.5, Z=-1.0):
        super().__init__()
        self._backend = _Thnn()
        self.nLem, self.K = n_data, K
        self.unigrams = torch.ones(n_data)
        self.multinomial = AliasMethod(n_data)
        self.register_buffer("params", torch.tensor([K, T, Z, momentum]))
        stdv = 1.0 / math.sqrt(dim / 3)
        self.register_buffer("memory", torch.rand(n_data, dim).mul_(2 * stdv).add_(-stdv))


class LinearAverage(nn.Module):
    """The release's memory module of the full softmax (``--nce-k 0``): ``params`` = [T, momentum]."""

    def __init__(self, dim, n_data, T=0.07, momentum=0.5):
        super().__init__()
        self.nLem = n_data
        self.register_buffer("params", torch.tensor([T, momentum]))
        stdv = 1.0 / math.sqrt(dim / 3)
        self.register_buffer("memory", torch.rand(n_data, dim).mul_(2 * stdv).add_(-stdv))


def install_release_modules(monkeypatch):
    """Make the classes above importable under the release's module names (so pickles name those globals)."""
    names = {"lib.NCEAverage": {"NCEAverage": NCEAverage}, "lib.alias_multinomial": {"AliasMethod": AliasMethod},
             "lib.normalize": {"Normalize": Normalize}, "lib.LinearAverage": {"LinearAverage": LinearAverage}}
    lib = types.ModuleType("lib")
    monkeypatch.setitem(sys.modules, "lib", lib)
    for module_name, classes in names.items():
        module = types.ModuleType(module_name)
        for name, cls in classes.items():
            monkeypatch.setattr(cls, "__module__", module_name)
            setattr(module, name, cls)
        setattr(lib, module_name.split(".")[1], module)
        monkeypatch.setitem(sys.modules, module_name, module)


def release_model(arch, size=224, seed=0):
    """The release's ResNet with random weights and random BN statistics, in eval mode."""
    torch.manual_seed(seed)
    block, layers = ARCHS[arch]
    model = ResNet(block, layers, size=size)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def save_release_checkpoint(path, arch, n_data, zip_format=True, size=224, seed=0, swap=None, memory=None):
    """``torch.save`` the release's ``main.py`` checkpoint dict of a random ``arch`` with an ``n_data``-row bank
    (``memory``: its rows; default random); ``swap=(key_a, key_b)`` exchanges two same-shaped state_dict tensors
    in the file. Returns (model, bank)."""
    model = release_model(arch, size, seed)
    wrapped = nn.DataParallel(model)  # the release wraps the whole ResNet: keys "module.conv1.weight", ...
    lemniscate = NCEAverage(128, n_data, 4096, Z=float(n_data) * 2.2)
    if memory is not None:
        lemniscate.memory.copy_(torch.from_numpy(memory))
    optimizer = torch.optim.SGD(wrapped.parameters(), 0.03, momentum=0.9, weight_decay=1e-4)
    for p in wrapped.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    optimizer.step()
    state = wrapped.state_dict()
    if swap:
        state[swap[0]], state[swap[1]] = state[swap[1]].clone(), state[swap[0]].clone()
    torch.save({"epoch": 200, "arch": arch, "state_dict": state, "lemniscate": lemniscate, "best_prec1": 0.41,
                "optimizer": optimizer.state_dict()}, path, _use_new_zipfile_serialization=zip_format)
    return model, lemniscate.memory.numpy().copy()


def torch_embedding(model, batch):
    """The release network's output for an NCHW float32 numpy batch."""
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(batch))).numpy()
