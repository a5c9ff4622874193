"""Backbones (common/models): registry and bad input, the specs' parameter counts and shapes, weight-decay terms
and the summary command (numerics, layouts and towers: test_model_numerics.py)."""
import functools
import subprocess
import sys

import numpy as np
import pytest

from common.tf1 import tf
from common.models import get_model, list_models
from common.models.registry import allowed_widths, register
from common.models.summary import count_parameters, main as summary_main


def built(name, num_classes=1000, size=224, data_format="NHWC", **options):
    """(trainable parameters, {endpoint: shape without batch}, weight-decay terms, parameters without the
    ``logits`` layer) of one build."""
    return _built(name, num_classes, size, data_format, tuple(sorted(options.items())))


@functools.lru_cache(maxsize=None)
def _built(name, num_classes, size, data_format, options):
    options = dict(options)
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [1, size, size, 3])
        ends = get_model(name)(images, False, num_classes=num_classes, data_format=data_format, weight_decay=1e-4,
                               **options)
        shapes = {k: v.shape.as_list()[1:] for k, v in ends.items()}
        trunk = [v for v in tf.trainable_variables() if not v.op.name.startswith("logits/")]
        return (count_parameters(), shapes, len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)),
                count_parameters(trunk))


def conv_params(k, c_in, c_out, bias=True, bn=False):
    """Parameters of a k x k conv (or fc when k = 1 on a vector) with optional bias and BN gamma/beta."""
    return k * k * c_in * c_out + (c_out if bias else 0) + (2 * c_out if bn else 0)


# ---------------------------------------------------------------- registry and bad input

REQUIRED = ["alexnet", "alexnet_bn", "alexnet_counting", "alexnet_la", "zfnet_bn", "vgg16", "vgg16_bn", "vgg19",
            "vgg19_bn", "vgg16_la", "vgg19_revisiting", "se_resnet50", "se_resnet101", "se_resnet152", "revnet50"] + \
    ["resnet%d%s" % (d, s) for d in (18, 34, 50, 101, 152) for s in ("", "_v2", "_official")]


def test_registry_has_every_contract_name():
    assert set(REQUIRED) <= set(list_models())
    assert list_models() == sorted(list_models())


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError) as e:
        get_model("resnet51")
    msg = str(e.value)
    assert "resnet51" in msg and "resnet50" in msg and "vgg16" in msg and "\n" not in msg


@pytest.mark.parametrize("name,width,allowed", [("alexnet", 2, "allowed widths: 1"),
                                                ("resnet50", 5, "0.25, 0.5, 0.75, 1"),
                                                ("vgg19_revisiting", 0.1, "0.125, 0.25")])
def test_unsupported_width_names_model_and_allowed_widths(name, width, allowed):
    with tf.Graph().as_default(), pytest.raises(ValueError) as e:
        get_model(name)(tf.zeros([1, 32, 32, 3]), False, width=width)
    assert name in str(e.value) and allowed in str(e.value)


def test_bad_options_and_layout_are_one_line_errors():
    images = tf.zeros([1, 32, 32, 3])
    with pytest.raises(ValueError, match="unknown option.*depth.*valid options: version"):
        get_model("resnet18_official")(images, False, depth=3)
    with pytest.raises(ValueError, match="'vgg16'.*data_format"):
        get_model("vgg16")(images, False, data_format="NWHC")
    with pytest.raises(ValueError, match="last_relu=False needs version=2"):
        get_model("resnet50_official")(images, False, version=1, last_relu=False)
    with pytest.raises(ValueError, match="registered twice"):
        register("resnet18")(lambda images, is_training: {})


def test_allowed_widths_follow_revisiting_filters_factors():
    assert allowed_widths("resnet50") == tuple(k / 4 for k in range(1, 17))
    assert allowed_widths("vgg19_revisiting") == tuple(k / 8 for k in range(1, 17))
    assert allowed_widths("alexnet") == (1,)


# ---------------------------------------------------------------- parameter counts (spec values)

SPEC_COUNTS = [
    # classification spec section 7 (224 px, 1000 classes)
    ("resnet18", 1000, 224, {}, 11689512), ("resnet34", 1000, 224, {}, 21797672),
    ("resnet50", 1000, 224, {}, 25557032), ("resnet101", 1000, 224, {}, 44549160),
    ("resnet152", 1000, 224, {}, 60192808),
    ("resnet18_v2", 1000, 224, {}, 11687720), ("resnet34_v2", 1000, 224, {}, 21795880),
    ("resnet50_v2", 1000, 224, {}, 25549352), ("resnet101_v2", 1000, 224, {}, 44541480),
    ("resnet152_v2", 1000, 224, {}, 60185128),
    ("se_resnet50", 1000, 224, {}, 28088024), ("se_resnet101", 1000, 224, {}, 49326872),
    ("se_resnet152", 1000, 224, {}, 66821848),
    ("alexnet", 1000, 224, {}, 60965224), ("alexnet", 1000, 224, {"grouped": False}, 62378344),
    ("alexnet_bn", 1000, 224, {}, 60965928),
    ("zfnet", 1000, 224, {}, 62357608), ("zfnet_bn", 1000, 224, {}, 62357608 + 2752),
    ("vgg16", 1000, 224, {}, 138357544), ("vgg16_bn", 1000, 224, {}, 138365992),
    ("vgg19", 1000, 224, {}, 143667240), ("vgg19_bn", 1000, 224, {}, 143678248),
    ("resnet50", 100, 224, {}, 23712932),
    # counting spec 3.2 (128 px)
    ("alexnet_counting", 1000, 128, {}, 34066792), ("alexnet_counting", 128, 128, {}, 30494208),
    ("alexnet_counting", None, 128, {}, 3747200),
    # revisiting 1.5: the x4 (standard) ResNet50 v1, exact
    ("resnet50_official", 1000, 224, {"version": 1, "width": 1.0}, 25557032),
]


@pytest.mark.parametrize("name,num_classes,size,options,expected", SPEC_COUNTS,
                         ids=["%s-%s-%s%s" % (c[0], c[1], c[2], "".join(c[3])) for c in SPEC_COUNTS])
def test_spec_parameter_counts(name, num_classes, size, options, expected):
    assert built(name, num_classes, size, **options)[0] == expected


REVISITING_TABLE = [  # (version, filters_factor, millions without head, with a 1000-way head): revisiting 1.5
    (1, 1, 1.481, 1.994), (2, 1, 1.479, 1.992), (1, 4, 23.508, 25.557), (2, 4, 23.500, 25.549),
    (2, 8, None, 97.989), (2, 12, None, 217.319), (2, 16, None, 383.540)]


@pytest.mark.parametrize("version,factor,trunk,total", REVISITING_TABLE)
def test_revisiting_resnet50_widths(version, factor, trunk, total):
    params, _, _, trunk_params = built("resnet50_official", 1000, 224, version=version, width=factor / 4)
    assert round(params / 1e6, 3) == total and params - trunk_params == 2048 * factor // 4 * 1000 + 1000
    if trunk is not None:
        assert round(trunk_params / 1e6, 3) == trunk


def test_revisiting_vgg19_count_from_layer_table():
    convs = sum(conv_params(3, c_in, c_out, bias=False, bn=True) for c_in, c_out in
                [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256)] + [(256, 256)] * 3 + [(256, 512)] +
                [(512, 512)] * 7)
    expected = convs + conv_params(7, 512, 4096, False, True) + conv_params(1, 4096, 4096, False, True) + \
        conv_params(1, 4096, 1000)
    assert built("vgg19_revisiting")[0] == expected == 143680936  # spec: ~143.681M


def test_la_alexnet_and_vgg_counts_from_layer_tables():
    alex = sum(conv_params(k, a, b, bn=True) for k, a, b in
               [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 384), (3, 384, 256), (5, 256, 4096),
                (1, 4096, 4096)]) + conv_params(1, 4096, 128)
    assert built("alexnet_la", 128)[0] == alex
    vgg = 0
    for c_in, c_out, n in [(3, 64, 2), (64, 128, 2), (128, 256, 3), (256, 512, 3), (512, 512, 3)]:
        ins = [c_in] + [c_out] * (n - 1)
        vgg += sum(conv_params(3, i, c_out) for i in ins[:-1]) + conv_params(3, ins[-1], c_out, False, True)
    vgg += conv_params(7, 512, 4096, False, True) + conv_params(1, 4096, 4096, False, True) + \
        conv_params(1, 4096, 128)
    assert built("vgg16_la", 128)[0] == vgg


# ---------------------------------------------------------------- endpoint shapes (spec values)

def test_classification_shapes():
    _, s, _, _ = built("resnet50")
    assert s["conv1"] == [112, 112, 64] and s["pool1"] == [56, 56, 64]
    assert [s["conv%d" % i] for i in range(2, 6)] == [[56, 56, 256], [28, 28, 512], [14, 14, 1024], [7, 7, 2048]]
    assert s["pre_logits"] == [2048] and s["logits"] == [1000]
    _, s, _, _ = built("resnet18")
    assert [s["conv%d" % i][2] for i in range(2, 6)] == [64, 128, 256, 512] and s["pre_logits"] == [512]
    _, s, _, _ = built("alexnet")
    assert [s[k][:2] for k in ("conv1", "pool1", "pool2", "pool5")] == [[55, 55], [27, 27], [13, 13], [6, 6]]
    assert s["pool5"] == [6, 6, 256]
    _, s, _, _ = built("zfnet_bn")
    assert s["conv1"][:2] == [110, 110] and s["conv2"][:2] == [26, 26] and s["pool5"] == [6, 6, 256]
    _, s, _, _ = built("vgg19")
    assert [s["pool%d" % i][0] for i in range(1, 6)] == [112, 56, 28, 14, 7] and s["pool5"] == [7, 7, 512]


def test_counting_shapes_at_128_and_256():
    _, s, _, _ = built("alexnet_counting", 1000, 128)
    assert [s[k] for k in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5")] == \
        [[32, 32, 96], [16, 16, 96], [16, 16, 256], [8, 8, 256], [8, 8, 384], [8, 8, 384], [8, 8, 256], [3, 3, 256]]
    assert s["fc_6"] == s["fc7"] == [4096] and s["fc8"] == s["logits"] == [1000]
    _, s, _, _ = built("alexnet_counting", None, 256)
    assert [s["conv%d" % i] for i in range(1, 6)] == \
        [[64, 64, 96], [32, 32, 256], [16, 16, 384], [16, 16, 384], [16, 16, 256]]
    assert "fc6" not in s and "logits" not in s


@pytest.mark.parametrize("depth,expected", [
    (18, [(64, 56)] * 4 + [(128, 28)] * 2 + [(256, 14)] * 2 + [(512, 7)] * 2),
    (50, [(64, 56), (64, 56), (256, 56), (256, 56), (256, 56)] + [(512, 28)] * 4 + [(1024, 14)] * 6 +
     [(2048, 7)] * 3)])
def test_la_ending_points_nchw(depth, expected):
    _, s, _, _ = built("resnet%d_official" % depth, 128, 224, data_format="NCHW")
    points = sorted((k for k in s if k.startswith("ending_point_")), key=lambda k: int(k.split("_")[-1]))
    assert [tuple(s[k][:2]) for k in points] == expected and s[points[-1]][1] == 7
    assert s["logits"] == [128]


def test_la_vgg_and_alexnet_endpoints():
    _, s, _, _ = built("vgg16_la", 128)
    assert [s["ending_point_%d" % i] for i in range(5)] == \
        [[224, 224, 64], [112, 112, 128], [56, 56, 256], [28, 28, 512], [14, 14, 512]]
    _, s, _, _ = built("alexnet_la", 128)
    assert [s["conv%d" % i] for i in range(1, 6)] == \
        [[54, 54, 64], [26, 26, 192], [12, 12, 384], [12, 12, 384], [12, 12, 256]]
    assert s["fc7"] == [4096] and s["logits"] == [128]


def test_revisiting_shapes():
    _, s, _, _ = built("resnet50_official", 1000, 224, version=2, width=0.25)
    assert [s[k] for k in ("after_root", "block1", "block2", "block3", "block4", "pre_logits")] == \
        [[56, 56, 16], [56, 56, 64], [28, 28, 128], [14, 14, 256], [7, 7, 512], [512]]
    _, s, _, _ = built("resnet50_official", None, 64, version=1, width=0.25, root_conv_stride=1, strides=(2, 2, 1))
    assert [s[k][:2] for k in ("after_root", "block1", "block2", "block3", "block4")] == \
        [[32, 32], [32, 32], [16, 16], [8, 8], [8, 8]]
    _, s, _, _ = built("vgg19_revisiting")
    assert [s["block%d" % i] for i in range(1, 6)] == \
        [[224, 224, 64], [112, 112, 128], [56, 56, 256], [28, 28, 512], [14, 14, 512]]
    assert s["fc6"] == s["pre_logits"] == [1, 1, 4096] and s["logits"] == [1000]


def test_cifar_stem_for_instance_discrimination():
    _, s, _, _ = built("resnet18", 128, 32, stem="cifar", width=0.25)
    assert s["conv1"] == [32, 32, 16] and "pool1" not in s
    assert [s["conv%d" % i][:2] for i in range(2, 6)] == [[32, 32], [16, 16], [8, 8], [4, 4]]
    assert built("resnet18", 10, 32, stem="cifar")[0] == 11173962  # torchvision-style CIFAR ResNet-18, 10 classes


# ---------------------------------------------------------------- weight-decay terms

def test_weight_decay_terms_are_the_kernels():
    assert built("resnet50")[2] == 54  # 53 conv kernels + the fc kernel (classification spec 7)
    assert built("alexnet_counting", 1000, 128)[2] == 8



# ---------------------------------------------------------------- summary command

def test_summary_prints_endpoints_and_parameter_count(capsys):
    assert summary_main(["resnet18"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "trainable parameters: 11689512"
    assert lines[0].split()[0] == "conv1" and "[1, 112, 112, 64]" in lines[0]
    assert summary_main(["alexnet_counting", "--image-size", "128"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "trainable parameters: 34066792"


@pytest.mark.parametrize("argv,words", [(["resnet51"], ["unknown backbone", "resnet50"]),
                                        (["alexnet", "--width", "2"], ["alexnet", "allowed widths: 1"]),
                                        (["alexnet", "--image-size", "32"], ["--image-size 32 is too small"])])
def test_summary_bad_input_is_one_error_line(capsys, argv, words):
    assert summary_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and all(w in err[0] for w in words)


@pytest.mark.slow
def test_summary_command_line():
    out = subprocess.run([sys.executable, "-m", "common.models.summary", "vgg16", "--num-classes", "1000"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "trainable parameters: 138357544"
