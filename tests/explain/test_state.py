"""Hooks removed and model flags restored after success and error; no memory growth;
the number of VJP vectors does not depend on N; chunking, fallback and devices."""

from __future__ import annotations

import gc

import pytest
import torch
from explain_helpers import TinyCNN, random_inputs, tiny_cnn
from torch import Tensor, nn

import causalcam.explain.engine as engine
from causalcam.errors import InputError
from causalcam.explain import CausalOptions, Explainer, map_function


def snapshot(model: nn.Module) -> tuple[list[bool], list[bool], list[int]]:
    hooks = [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()]
    return (
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
        hooks,
    )


def mixed_model() -> TinyCNN:
    """Some modules in train mode, some parameters frozen."""
    model = tiny_cnn()
    model.train()
    model.features[1].eval()
    model.features[0].weight.requires_grad_(False)
    model.fc.bias.requires_grad_(False)
    return model


def test_success_restores_flags_hooks_grads_and_grad_mode() -> None:
    model = mixed_model()
    before = snapshot(model)
    with torch.no_grad(), Explainer(model) as explainer:
        explainer.explain(random_inputs(2))
        assert not torch.is_grad_enabled()
    assert snapshot(model) == before
    assert all(p.grad is None for p in model.parameters())
    assert torch.is_grad_enabled()


class Exploding(TinyCNN):
    """Raises inside forward, after the target layer ran."""

    def forward(self, x: Tensor) -> Tensor:
        self.features(x)
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    "trigger",
    ["forward", "contrast equals target", "class out of range", "unknown method"],
)
def test_error_restores_flags_and_hooks(trigger: str) -> None:
    model = Exploding() if trigger == "forward" else mixed_model()
    model.train()
    model.fc.weight.requires_grad_(False)
    before = snapshot(model)
    options = {
        "forward": {},
        "contrast equals target": {"target_class": 1, "contrast_class": 1},
        "class out of range": {"target_class": 2},
        "unknown method": {"methods": ("gradcam", "grad-cam")},
    }[trigger]
    error = RuntimeError if trigger == "forward" else InputError
    with pytest.raises(error), Explainer(model, target_layer="features.3") as explainer:
        explainer.explain(random_inputs(2), **options)  # type: ignore[arg-type]
    assert snapshot(model) == before
    assert torch.is_grad_enabled()


def live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), Tensor))


def test_memory_does_not_grow_over_200_calls() -> None:
    model, x = tiny_cnn(10), random_inputs(2, size=16)
    fn = map_function(model, "causal")
    for _ in range(10):
        fn(x)
    start = live_tensors()
    for _ in range(200):
        fn(x)
    assert live_tensors() == start
    assert snapshot(model)[2] == [0] * len(list(model.modules()))


class Spy:
    """Records the shape of every ``grad_outputs`` given to ``torch.autograd.grad`` (the
    network VJPs; targets' scalar gradients on the logits pass none)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.real = torch.autograd.grad
        monkeypatch.setattr(engine.torch.autograd, "grad", self)

    def __call__(self, *args: object, **kwargs: object) -> object:
        outputs = kwargs.get("grad_outputs")
        if isinstance(outputs, Tensor):
            self.shapes.append(tuple(outputs.shape))
        return self.real(*args, **kwargs)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("methods", "causal", "vectors"),
    [
        (None, CausalOptions(), 4),  # all six maps, default mse_prob: e_P, S p, S e_P, S e_Q
        (None, CausalOptions("bce", "none", "set"), 3),  # e_P, e_Q and g0 of bce
        (("causal",), CausalOptions.grid_variants(), 4),  # + g0 of the second loss
        # + g0 of mse_prob, S e_P, S e_Q (probabilities) and softmax (Grad-CAM via the loss)
        (("causal",), CausalOptions.ablation_variants(), 8),
        (("gradcam", "gradcam++"), CausalOptions(), 1),
    ],
)
def test_vjp_vectors_do_not_depend_on_classes(
    monkeypatch: pytest.MonkeyPatch, methods: tuple[str, ...] | None, causal: object, vectors: int
) -> None:
    spy = Spy(monkeypatch)
    x = random_inputs(3, size=16)
    for n_classes in (2, 1000):
        with Explainer(tiny_cnn(n_classes)) as explainer:
            kwargs = (
                {"causal": causal} if methods is None else {"methods": methods, "causal": causal}
            )
            explainer.explain(x, **kwargs)  # type: ignore[arg-type]
    assert spy.shapes == [(vectors, 3, 2), (vectors, 3, 1000)]


class Doubler(torch.autograd.Function):
    """``2 x`` whose backward reads a value (``.item()``): batched VJPs through it fail."""

    @staticmethod
    def forward(ctx: object, x: Tensor) -> Tensor:
        return 2 * x

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> Tensor:
        assert grad.isfinite().all().item()
        return 2 * grad


class NoVmap(TinyCNN):
    def __init__(self, custom: bool) -> None:
        torch.manual_seed(0)
        super().__init__(num_classes=4)
        self.custom = custom

    def forward(self, x: Tensor) -> Tensor:
        a = self.features(x)
        a = Doubler.apply(a) if self.custom else 2 * a
        return self.fc(self.pool(a).flatten(1))


def test_fallback_when_batched_vjp_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    x = random_inputs(2, size=16)
    with Explainer(NoVmap(custom=False).eval(), target_layer="features.3") as explainer:
        expected = explainer.explain(x)
    spy = Spy(monkeypatch)
    with Explainer(NoVmap(custom=True).eval(), target_layer="features.3") as explainer:
        got = explainer.explain(x)
    assert spy.shapes[0] == (4, 2, 4) and spy.shapes[1:] == [(2, 4)] * 4
    for name, maps in expected.maps.items():
        torch.testing.assert_close(got.maps[name], maps, atol=1e-5, rtol=0)


def test_chunks_give_the_same_maps() -> None:
    model, x = tiny_cnn(5), random_inputs(7, size=16)
    targets = torch.tensor([0, 1, 2, 3, 4, 0, 1])
    whole = Explainer(model, chunk_size=64).explain(x, target_class=targets, return_raw=True)
    chunked = Explainer(model, chunk_size=3).explain(x, target_class=targets, return_raw=True)
    assert whole.raw is not None and chunked.raw is not None
    for name in whole.maps:
        torch.testing.assert_close(chunked.maps[name], whole.maps[name], atol=2e-6, rtol=0)
        torch.testing.assert_close(chunked.raw[name], whole.raw[name], atol=2e-6, rtol=0)
    assert torch.equal(chunked.target, targets)
    # different batch sizes may run different kernels: equal up to rounding, not bit for bit
    torch.testing.assert_close(chunked.logits, whole.logits, atol=1e-5, rtol=1e-5)


def test_maps_in_unit_range_and_constant_map_is_zero() -> None:
    model = tiny_cnn(3)
    x = torch.zeros(2, 3, 16, 16)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    result = Explainer(model).explain(x)
    for maps in result.maps.values():
        assert maps.shape == (2, 16, 16) and not maps.isnan().any() and not maps.any()
    result = Explainer(tiny_cnn(3)).explain(random_inputs(2, size=16))
    for maps in result.maps.values():
        assert maps.min() >= 0 and maps.max() <= 1


def test_auto_layer_of_plain_cnn() -> None:
    assert Explainer(tiny_cnn()).explain(random_inputs(1, size=16)).layer == "features.3"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    model, x = tiny_cnn(10), random_inputs(3, size=32)
    cpu = Explainer(model).explain(x)
    gpu = Explainer(model.cuda()).explain(x.cuda())
    for name, maps in cpu.maps.items():
        assert gpu.maps[name].device.type == "cuda"
        torch.testing.assert_close(gpu.maps[name].cpu(), maps, atol=1e-4, rtol=0)


def test_works_under_inference_mode_and_no_grad() -> None:
    model, x = tiny_cnn(3), random_inputs(2, size=16)
    expected = Explainer(model).explain(x).maps["causal"]
    with torch.inference_mode():
        inference_x = x.clone()
        got = Explainer(model).explain(inference_x).maps["causal"]
    torch.testing.assert_close(got.clone(), expected, atol=1e-6, rtol=0)
