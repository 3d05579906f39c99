"""On volumes (B, C, D, H, W) of 3-D networks, Grad-CAM and Grad-CAM++ equal the grad-cam
package's 3-D maps (1.5.7) to 1e-5 in float64 before resizing (and to 2e-3 after, where the
layer is at input resolution: grad-cam resizes volumes with scipy's cubic-spline ``zoom``,
which moves values by about 5e-4 even at factor 1, and aligns corners, so at other factors
the two resizings differ by design); Grad-CAM equals MONAI's ``GradCAM`` before and after
resizing (both trilinear, ``align_corners=False``; MONAI's normaliser maps (min, max) to
(1, 0); it is called one image at a time, since with a batch it differentiates the sum of
every image's chosen class scores). Batch norms are calibrated first: untrained ones leave
maps near 1e-13."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import numpy as np
import pytest
import torch
from monai.networks.nets import DenseNet121
from monai.visualize import GradCAM as MonaiGradCAM
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from torch import nn
from torchvision.models import video
from volume_helpers import (
    assert_raw_close,
    calibrated,
    monai_resnet18,
    package_maps,
    random_volumes,
    tiny_cnn3d,
)

from causalcam.explain import Explainer
from causalcam.explain.layers import known_layer

PACKAGES = {"gradcam": PackageGradCAM, "gradcam++": PackageGradCAMPlusPlus}


@functools.cache
def network(name: str) -> nn.Module:
    """A seeded 3-D network in float64 with calibrated batch norms."""
    return BUILDERS[name]().double()


def _tiny() -> nn.Module:
    return tiny_cnn3d(channels=1)


def _monai_densenet() -> nn.Module:
    torch.manual_seed(0)
    return calibrated(
        DenseNet121(spatial_dims=3, in_channels=1, out_channels=3), (2, 1, 32, 64, 64)
    )


def _torchvision(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        model = getattr(video, name)(weights=None, num_classes=4)
        return calibrated(model, (2, 3, 8, 56, 56))

    return build


BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "tiny": _tiny,
    "monai_resnet18": monai_resnet18,
    "monai_densenet121": _monai_densenet,
    **{name: _torchvision(name) for name in ("r3d_18", "mc3_18", "r2plus1d_18")},
}

#: network -> (target layer, input shape).
FAST = {
    "tiny-strided": ("tiny", "features.5", (2, 1, 8, 32, 32)),
    "tiny-full": ("tiny", "features.2", (2, 1, 8, 16, 16)),
    "monai_resnet18": ("monai_resnet18", "layer4", (1, 1, 8, 32, 32)),
}
SLOW = {
    "r3d_18": ("r3d_18", "layer4", (1, 3, 16, 64, 64)),
    "mc3_18": ("mc3_18", "layer4", (1, 3, 16, 64, 64)),
    "r2plus1d_18": ("r2plus1d_18", "layer4", (1, 3, 16, 64, 64)),
    "monai_densenet121": ("monai_densenet121", "features.norm5", (1, 1, 32, 64, 64)),
    # MONAI's own example layer: the in-place ReLU after features.norm5. Five stride-2 stages
    # leave (1, 2, 2) voxels of a (32, 64, 64) volume (a 32^3 one would leave a single voxel).
    "monai_densenet121-relu": ("monai_densenet121", "class_layers.relu", (1, 1, 32, 64, 64)),
}
CASES = [
    *[pytest.param(*case, id=key) for key, case in FAST.items()],
    *[pytest.param(*case, id=key, marks=pytest.mark.slow) for key, case in SLOW.items()],
]


@pytest.mark.parametrize(("name", "layer", "shape"), CASES)
def test_matches_grad_cam_package_3d(name: str, layer: str, shape: tuple[int, ...]) -> None:
    model, x = network(name), random_volumes(shape).double()
    with Explainer(model, target_layer=layer, channels_last=False) as explainer:
        ours = explainer.explain(x, methods=tuple(PACKAGES), return_raw=True)
    assert ours.raw is not None
    full_resolution = ours.raw["gradcam"].shape[1:] == x.shape[2:]
    for method, package in PACKAGES.items():
        raw, final = package_maps(package, model, layer, x)
        assert_raw_close(ours.raw[method], raw)
        assert ours.maps[method].shape == final.shape == (shape[0], *shape[2:])
        if full_resolution:
            np.testing.assert_allclose(ours.maps[method].numpy(), final.numpy(), atol=2e-3)


@pytest.mark.parametrize(
    ("name", "layer", "shape"),
    [
        pytest.param(*FAST["tiny-strided"], id="tiny"),
        pytest.param(*FAST["monai_resnet18"], id="monai_resnet18"),
        pytest.param(
            *SLOW["monai_densenet121-relu"], id="monai_densenet121", marks=pytest.mark.slow
        ),
    ],
)
def test_gradcam_matches_monai(name: str, layer: str, shape: tuple[int, ...]) -> None:
    model, x = network(name), random_volumes(shape).double()
    with Explainer(model, target_layer=layer, channels_last=False) as explainer:
        ours = explainer.explain(x, methods=("gradcam",), return_raw=True)
    assert ours.raw is not None
    # A copy: MONAI leaves its hooks on the layer and turns an in-place layer's ``inplace``
    # off (DenseNet121's class_layers.relu), which would change what the cached network's
    # other cases see at features.norm5.
    cam = MonaiGradCAM(nn_module=copy.deepcopy(model), target_layers=layer)
    for b in range(x.shape[0]):  # one image a call: MONAI sums every image's class scores
        image, target = x[b : b + 1], int(ours.target[b])
        raw = cam.compute_map(image, class_idx=target).squeeze(1).detach()
        assert_raw_close(ours.raw["gradcam"][b : b + 1], raw)
        undone = 1 - cam(image, class_idx=target).squeeze(1).detach()  # (min, max) -> (1, 0)
        torch.testing.assert_close(
            ours.maps["gradcam"][b : b + 1],
            undone.to(ours.maps["gradcam"].dtype),
            rtol=0,
            atol=1e-5,
        )


@pytest.mark.slow
def test_monai_densenet_layer_is_explicit() -> None:
    """causalcam's automatic layer for MONAI's DenseNet121 is features.norm5, whose gradient
    is the pre-ReLU one (masked by the ReLU), not MONAI's class_layers.relu: the parity cases
    above pass the layer explicitly."""
    assert known_layer(network("monai_densenet121")) == "features.norm5"
