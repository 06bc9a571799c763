"""Models in the layouts of code nobody on the jinit team wrote, with their true fans by hand.

Each :class:`Zoo` entry builds a model the way its library or its authors do -- Equinox's own
``eqx.nn.MLP`` and ``eqx.nn.Conv2d`` (weights ``(out, in, ...)``), an einsum transformer with
Gemma's parameter layouts (``q_einsum (heads, d, head_dim)``, ``kv_einsum (2, kv_heads, d,
head_dim)``, ``gating_einsum (2, d, ff)``, a tied embedding), a ResNet-18-style CNN with
BatchNorm as in Flax's ImageNet example (user-named stem ``conv_init``), layers stacked by
``nn.scan`` and by ``nnx.vmap`` -- and gives each weight's *true* fan-in and fan-out, written
from the architecture (not from any jinit function), so a test can check realized variances
against them.

Used by the tests (``tests/test_third_party.py``) and by ``benchmarks/fan_audit.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import nnx

import jinit

Fans = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Zoo:
    """One third-party-style model.

    Attributes:
      name: a short id.
      apply: ``apply(params, *data)``, what :func:`jinit.trace_axes` traces.
      params: the parameters (linen variables, an Equinox or nnx module), built by ``build``.
      data: example inputs.
      fans: ``{path: (true fan_in, true fan_out)}`` of every weight.
      weights: the glob patterns of every weight, for one factory rule each.
      others: rules for the parameters that are not weights (biases, norm scales, statistics).
    """

    name: str
    apply: Callable[..., Any]
    params: Any
    data: tuple[Any, ...]
    fans: Fans
    weights: tuple[str, ...]
    others: dict[str, Any]


def _call(module: Any, *data: Any) -> Any:
    return module(*data)


# ----------------------------------------------------------------------------- Equinox


def equinox_mlp() -> Zoo:
    import equinox as eqx

    model = eqx.nn.MLP(64, 10, 256, 3, key=jax.random.key(0))  # 64 -> 256 -> 256 -> 256 -> 10
    sizes = [(64, 256), (256, 256), (256, 256), (256, 10)]
    fans = {f"layers/{i}/weight": (float(a), float(b)) for i, (a, b) in enumerate(sizes)}
    return Zoo(
        "equinox_mlp", _call, model, (jnp.ones(64),), fans, ("*weight",), {"*bias": jinit.zeros}
    )


def equinox_cnn() -> Zoo:
    import equinox as eqx

    class Net(eqx.Module):
        conv1: eqx.nn.Conv2d
        conv2: eqx.nn.Conv2d
        conv3: eqx.nn.Conv2d
        head: eqx.nn.Linear

        def __init__(self, key: jax.Array) -> None:
            k1, k2, k3, k4 = jax.random.split(key, 4)
            self.conv1 = eqx.nn.Conv2d(3, 32, 3, key=k1)  # weight (32, 3, 3, 3)
            self.conv2 = eqx.nn.Conv2d(32, 64, 3, key=k2)  # weight (64, 32, 3, 3)
            self.conv3 = eqx.nn.Conv2d(64, 64, 3, groups=4, key=k3)  # weight (64, 16, 3, 3)
            self.head = eqx.nn.Linear(64 * 4 * 4, 10, key=k4)

        def __call__(self, x: jax.Array) -> jax.Array:
            x = jax.nn.relu(self.conv1(x))
            x = jax.nn.relu(self.conv2(x))
            x = jax.nn.relu(self.conv3(x))
            return self.head(x.reshape(-1))

    fans = {
        "conv1/weight": (3 * 9, 32 * 9),
        "conv2/weight": (32 * 9, 64 * 9),
        "conv3/weight": (16 * 9, 64 * 9),  # grouped: 64/4 inputs per output
        "head/weight": (1024, 10),
    }
    return Zoo(
        "equinox_cnn",
        _call,
        Net(jax.random.key(1)),
        (jnp.ones((3, 10, 10)),),
        {k: (float(a), float(b)) for k, (a, b) in fans.items()},
        ("*weight",),
        {"*bias": jinit.zeros},
    )


# ----------------------------------------------------------------------------- Gemma-style


class RMSNorm(nn.Module):
    """Gemma's RMSNorm: ``x / rms(x) * (1 + scale)``, scale initialized to 0."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        scale = self.param("scale", nn.initializers.zeros, (x.shape[-1],))
        rms = jnp.sqrt(jnp.mean(x**2, axis=-1, keepdims=True) + 1e-6)
        return x / rms * (1 + scale)


class Attention(nn.Module):
    heads: int
    kv_heads: int
    head_dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        d = x.shape[-1]
        q = nn.Einsum(
            (self.heads, d, self.head_dim), "BTD,NDH->BTNH", use_bias=False, name="q_einsum"
        )(x)
        kv = nn.Einsum(
            (2, self.kv_heads, d, self.head_dim),
            "BSD,CKDH->CBSKH",
            use_bias=False,
            name="kv_einsum",
        )(x)
        k, v = kv[0], kv[1]
        groups = self.heads // self.kv_heads
        k, v = jnp.repeat(k, groups, axis=2), jnp.repeat(v, groups, axis=2)
        logits = jnp.einsum("BTNH,BSNH->BNTS", q, k) / jnp.sqrt(self.head_dim)
        mask = jnp.tril(jnp.ones((x.shape[1], x.shape[1]), bool))
        probs = jax.nn.softmax(jnp.where(mask, logits, -1e9), axis=-1)
        encoded = jnp.einsum("BNTS,BSNH->BTNH", probs, v)
        return nn.Einsum(
            (self.heads, self.head_dim, d), "BTNH,NHD->BTD", use_bias=False, name="attn_vec_einsum"
        )(encoded)


class FeedForward(nn.Module):
    """Gemma's gated MLP: one ``gating_einsum (2, d, ff)`` parameter for gate and up."""

    hidden: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        d = x.shape[-1]
        gating = self.param("gating_einsum", nn.initializers.zeros, (2, d, self.hidden))
        gate = jax.nn.gelu(jnp.dot(x, gating[0]))
        up = jnp.dot(x, gating[1])
        linear = self.param("linear", nn.initializers.zeros, (self.hidden, d))
        return jnp.dot(gate * up, linear)


class Block(nn.Module):
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x + Attention(self.heads, self.kv_heads, self.head_dim, name="attn")(
            RMSNorm(name="pre_attention_norm")(x)
        )
        return x + FeedForward(self.hidden, name="mlp")(RMSNorm(name="pre_ffw_norm")(x))


class Gemma(nn.Module):
    vocab: int = 512
    d: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    hidden: int = 256

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        embedder = nn.Embed(self.vocab, self.d, name="embedder")
        x = embedder(tokens) * jnp.sqrt(self.d)
        for i in range(self.layers):
            x = Block(self.heads, self.kv_heads, self.head_dim, self.hidden, name=f"layer_{i}")(x)
        return embedder.attend(RMSNorm(name="final_norm")(x))  # tied read-out


def gemma_fans(model: Gemma) -> Fans:
    """True fans: q/kv contract d; attn_vec contracts heads x head_dim; k and v are two
    projections of kv_heads x head_dim each (kv[0], kv[1]), and the two halves of
    gating_einsum two (d, ff) layers: their leading axis stacks layers."""
    d, n, k, h, f = model.d, model.heads, model.kv_heads, model.head_dim, model.hidden
    fans: Fans = {"params/embedder/embedding": (d, model.vocab)}
    for i in range(model.layers):
        p = f"params/layer_{i}"
        fans[f"{p}/attn/q_einsum/kernel"] = (d, n * h)
        fans[f"{p}/attn/kv_einsum/kernel"] = (d, k * h)
        fans[f"{p}/attn/attn_vec_einsum/kernel"] = (n * h, d)
        fans[f"{p}/mlp/gating_einsum"] = (d, f)
        fans[f"{p}/mlp/linear"] = (f, d)
    return {key: (float(a), float(b)) for key, (a, b) in fans.items()}


def gemma() -> Zoo:
    model = Gemma()
    tokens = jnp.zeros((2, 16), jnp.int32)
    variables = jax.eval_shape(model.init, jax.random.key(0), tokens)
    return Zoo(
        "gemma_einsum",
        model.apply,
        variables,
        (tokens,),
        gemma_fans(model),
        ("*kernel", "*gating_einsum", "*linear", "*embedding"),
        {"*scale": jinit.zeros},
    )


# ----------------------------------------------------------------------------- ResNet-18


class ResNetBlock(nn.Module):
    """As ``flax/examples/imagenet/models.py``: two 3x3 convs, BatchNorm, a projection."""

    filters: int
    strides: tuple[int, int] = (1, 1)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        norm = lambda **kw: nn.BatchNorm(use_running_average=not train, momentum=0.9, **kw)  # noqa: E731
        residual = x
        y = nn.Conv(self.filters, (3, 3), self.strides, use_bias=False)(x)
        y = nn.relu(norm()(y))
        y = nn.Conv(self.filters, (3, 3), use_bias=False)(y)
        y = norm()(y)
        if residual.shape != y.shape:
            residual = nn.Conv(
                self.filters, (1, 1), self.strides, use_bias=False, name="conv_proj"
            )(residual)
            residual = norm(name="norm_proj")(residual)
        return nn.relu(residual + y)


class ResNet18(nn.Module):
    width: int = 16
    classes: int = 10

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = nn.Conv(
            self.width, (7, 7), (2, 2), padding=[(3, 3), (3, 3)], use_bias=False, name="conv_init"
        )(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, name="bn_init")(x))
        x = nn.max_pool(x, (3, 3), (2, 2), padding="SAME")
        for stage in range(4):
            for block in range(2):
                strides = (2, 2) if stage > 0 and block == 0 else (1, 1)
                x = ResNetBlock(self.width * 2**stage, strides)(x, train)
        return nn.Dense(self.classes)(jnp.mean(x, axis=(1, 2)))


def resnet_convs(model: ResNet18) -> dict[str, tuple[int, int, int]]:
    """``{path: (in channels, out channels, window)}`` of every convolution, from the design."""
    convs = {"params/conv_init/kernel": (3, model.width, 7)}
    width, number = model.width, 0
    for stage in range(4):
        out = model.width * 2**stage
        for block in range(2):
            p = f"params/ResNetBlock_{number}"
            convs[f"{p}/Conv_0/kernel"] = (width, out, 3)
            convs[f"{p}/Conv_1/kernel"] = (out, out, 3)
            if width != out or (stage > 0 and block == 0):
                convs[f"{p}/conv_proj/kernel"] = (width, out, 1)
            width, number = out, number + 1
    return convs


def resnet() -> Zoo:
    model = ResNet18()
    x = jnp.ones((2, 32, 32, 3))
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    fans: Fans = {
        path: (float(i * k * k), float(o * k * k))
        for path, (i, o, k) in resnet_convs(model).items()
    }
    fans["params/Dense_0/kernel"] = (float(model.width * 8), float(model.classes))
    return Zoo(
        "resnet18_bn",
        lambda v, x: model.apply(v, x, train=False),
        variables,
        (x,),
        fans,
        ("*kernel",),
        {
            "*bias": jinit.zeros,
            "*scale": jinit.ones,
            "batch_stats/*mean": jinit.zeros,
            "batch_stats/*var": jinit.ones,
        },
    )


# ----------------------------------------------------------------------------- stacked layers


class ScanBlock(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x: jax.Array, _: Any) -> tuple[jax.Array, None]:
        return nn.relu(nn.Dense(self.width)(x)), None


class Scanned(nn.Module):
    width: int = 128
    depth: int = 6

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        stack = nn.scan(
            ScanBlock, variable_axes={"params": 0}, split_rngs={"params": True}, length=self.depth
        )
        x, _ = stack(self.width, name="blocks")(x, None)
        return x


def linen_scan() -> Zoo:
    model = Scanned()
    x = jnp.ones((4, model.width))
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    path = "params/blocks/Dense_0/kernel"  # (depth, width, width)
    return Zoo(
        "linen_scan",
        model.apply,
        variables,
        (x,),
        {path: (float(model.width), float(model.width))},
        ("*kernel",),
        {"*bias": jinit.zeros},
    )


class VmapStack(nnx.Module):
    def __init__(self, width: int, depth: int, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=depth)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def make(rngs: nnx.Rngs) -> nnx.Linear:
            return nnx.Linear(width, width, rngs=rngs)

        self.layers = make(rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
        def forward(x: jax.Array, layer: nnx.Linear) -> jax.Array:
            return nnx.relu(layer(x))

        return forward(x, self.layers)


def nnx_vmap() -> Zoo:
    width, depth = 128, 6
    model = VmapStack(width, depth, nnx.Rngs(0))
    return Zoo(
        "nnx_vmap",
        _call,
        model,
        (jnp.ones((4, width)),),
        {"layers/kernel": (float(width), float(width))},
        ("*kernel",),
        {"*bias": jinit.zeros},
    )


ZOO: dict[str, Callable[[], Zoo]] = {
    "equinox_mlp": equinox_mlp,
    "equinox_cnn": equinox_cnn,
    "gemma_einsum": gemma,
    "resnet18_bn": resnet,
    "linen_scan": linen_scan,
    "nnx_vmap": nnx_vmap,
}


def leaves(tree: Any) -> dict[str, Any]:
    """``{path: leaf}`` of a tree (an nnx Module's state), as jinit names the paths."""
    if isinstance(tree, nnx.Module):
        tree = nnx.state(tree)
    return {jinit.path_string(p): v for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def fan_ratios(
    params: Any, fans: Fans, scale: float = 1.0, mode: str = "fan_in"
) -> dict[str, float]:
    """``Var(w) * true fan / scale`` for every weight in ``fans``: 1.0 when the fan is right.

    For a stacked weight each layer has the same fan; the mean square over all of them is used.
    """
    flat = leaves(params)
    out = {}
    for path, (fan_in, fan_out) in fans.items():
        value = jnp.asarray(flat[path], jnp.float32)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        out[path] = float(jnp.mean(value**2)) * fan / scale
    return out
