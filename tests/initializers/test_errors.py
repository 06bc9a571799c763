"""Bad input gets a clear ValueError/TypeError naming the initializer, argument and value.

Everything that does not need the shape is checked when the factory is called; the rest when
the initializer is called (still before any computation, so never a NaN, a ZeroDivisionError
or a compiler error).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit

KEY = jax.random.key(0)

FACTORY_ERRORS = [
    # (call, exception, message pattern)
    (lambda: jinit.variance_scaling(-1.0, "fan_in", "normal"), ValueError,
     r"jinit\.variance_scaling: scale must be > 0, got -1\.0"),
    (lambda: jinit.variance_scaling(0.0, "fan_in", "normal"), ValueError, r"scale must be > 0"),
    (lambda: jinit.variance_scaling(math.nan, "fan_in", "normal"), ValueError,
     r"scale must be finite, got nan"),
    (lambda: jinit.variance_scaling(math.inf, "fan_in", "normal"), ValueError,
     r"scale must be finite, got inf"),
    (lambda: jinit.variance_scaling("1", "fan_in", "normal"), TypeError,
     r"scale must be a real number, got '1'"),
    (lambda: jinit.variance_scaling(True, "fan_in", "normal"), TypeError,
     r"scale must be a real number, got True"),
    (lambda: jinit.variance_scaling(1j, "fan_in", "normal"), TypeError, r"scale must be"),
    (lambda: jinit.variance_scaling(1.0, "fan-in", "normal"), ValueError,
     r"mode must be one of 'fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'; got 'fan-in'\. "
     r"Did you mean 'fan_in'\?"),
    (lambda: jinit.variance_scaling(1.0, 3, "normal"), TypeError, r"mode must be a string"),
    (lambda: jinit.variance_scaling(1.0, "fan_in", "gaussian"), ValueError,
     r"distribution must be one of 'truncated_normal', 'normal', 'untruncated_normal', "
     r"'uniform'; got 'gaussian'"),
    (lambda: jinit.variance_scaling(1.0, "fan_in", "normal", in_axis=1.5), TypeError,
     r"in_axis must be an int or a sequence of ints, got 1\.5"),
    (lambda: jinit.variance_scaling(1.0, "fan_in", "normal", out_axis="x"), TypeError,
     r"out_axis must be an int or a sequence of ints"),
    (lambda: jinit.variance_scaling(1.0, "fan_in", "normal", batch_axis=(0, 0)), ValueError,
     r"batch_axis has repeated axes: \(0, 0\)"),
    (lambda: jinit.variance_scaling(1.0, "fan_in", "normal", dtype="nope"), TypeError,
     r"dtype 'nope' is not a valid dtype"),
    (lambda: jinit.he_normal(in_axis=[1.0]), TypeError, r"jinit\.he_normal: in_axis"),
    (lambda: jinit.glorot_uniform(batch_axis=True), TypeError, r"jinit\.glorot_uniform"),
    (lambda: jinit.normal(-0.01), ValueError, r"jinit\.normal: stddev must be > 0, got -0\.01"),
    (lambda: jinit.normal(0.0), ValueError, r"stddev must be > 0"),
    (lambda: jinit.uniform(-1.0), ValueError, r"jinit\.uniform: scale must be > 0"),
    (lambda: jinit.truncated_normal(1.0, lower=2.0, upper=1.0), ValueError,
     r"lower must be < upper, got lower=2\.0, upper=1\.0"),
    (lambda: jinit.truncated_normal(1.0, lower=-math.inf), ValueError,
     r"lower must be finite"),
    (lambda: jinit.random_uniform(1.0, 0.0), ValueError,
     r"minval must be < maxval, got minval=1\.0, maxval=0\.0"),
    (lambda: jinit.random_uniform(1.0, 1.0), ValueError, r"minval must be < maxval"),
    (lambda: jinit.random_normal(0.0, -1.0), ValueError, r"stddev must be > 0"),
    (lambda: jinit.trunc_normal(a=1.0, b=-1.0), ValueError, r"a must be < b, got a=1\.0"),
    (lambda: jinit.trunc_normal(std=0.0), ValueError, r"std must be > 0"),
    (lambda: jinit.trunc_normal(exact_std=1), TypeError, r"exact_std must be a bool"),
    (lambda: jinit.trunc_normal(0.0, 2.0, -1.0, 1.0, exact_std=True), ValueError,
     r"std must be < \(b - a\)/sqrt\(12\) = 0\.57735"),
    (lambda: jinit.constant(math.nan), ValueError, r"jinit\.constant: value must be finite"),
    (lambda: jinit.constant("a"), TypeError, r"value must be numeric"),
    (lambda: jinit.calculate_gain("gelu"), ValueError,
     r"nonlinearity must be one of 'linear', .*'selu'; got 'gelu'"),
    (lambda: jinit.calculate_gain("Tanh"), ValueError, r"Did you mean 'tanh'\?"),
    (lambda: jinit.calculate_gain("leaky_relu", "a"), TypeError,
     r"param must be a real number, got 'a'"),
    (lambda: jinit.torch_kaiming_normal(mode="fan_avg"), ValueError,
     r"jinit\.torch_kaiming_normal: mode must be one of 'fan_in', 'fan_out'"),
    (lambda: jinit.torch_kaiming_uniform(nonlinearity="gelu"), ValueError,
     r"jinit\.torch_kaiming_uniform: nonlinearity must be one of"),
    (lambda: jinit.torch_kaiming_normal(a=math.nan), ValueError, r"a must be finite"),
    (lambda: jinit.torch_xavier_normal(gain=-1.0), ValueError, r"gain must be > 0"),
    (lambda: jinit.orthogonal(-1.0), ValueError, r"jinit\.orthogonal: scale must be > 0"),
    (lambda: jinit.orthogonal(column_axis=(0, 1)), TypeError, r"column_axis must be an int"),
    (lambda: jinit.delta_orthogonal(column_axis=1.0), TypeError, r"column_axis"),
    (lambda: jinit.identity(0.0), ValueError, r"jinit\.identity: scale must be non-zero"),
    (lambda: jinit.dirac(groups=0), ValueError, r"jinit\.dirac: groups must be >= 1, got 0"),
    (lambda: jinit.dirac(groups=1.5), TypeError, r"groups must be an int, got 1\.5"),
    (lambda: jinit.dirac(in_axis=(0, 1)), TypeError, r"in_axis must be a single int"),
    (lambda: jinit.gain("unknown_act"), ValueError, r"jinit\.gain: fn must be one of"),
    (lambda: jinit.gain(3), TypeError, r"fn must be a callable or an activation name, got 3"),
    (lambda: jinit.gain(lambda x: 0 * x), ValueError, r"finite, positive second moment"),
    (lambda: jinit.gain(lambda x: x.sum()), ValueError, r"fn must be elementwise"),
    (lambda: jinit.gain(jnp.tanh, points=2), ValueError, r"points must be an int >= 4"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), FACTORY_ERRORS,
                         ids=[p for _, _, p in FACTORY_ERRORS])
def test_factory_rejects_bad_arguments_at_once(call: object, error: type[Exception],
                                               pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        call()  # type: ignore[operator]


INIT_ERRORS = [
    (jinit.he_normal(), (-1, 3), jnp.float32, ValueError,
     r"jinit\.he_normal: shape must contain only non-negative sizes, got \(-1, 3\)"),
    (jinit.normal(), (2.5, 3), jnp.float32, TypeError,
     r"shape must contain only ints, got \(2\.5, 3\) \(the entry 2\.5 is float\)"),
    (jinit.zeros_init(), "ab", jnp.float32, TypeError, r"shape must be a sequence"),
    (jinit.lecun_normal(), (5,), jnp.float32, ValueError,
     r"jinit\.lecun_normal: a weight of rank 1 \(shape \(5,\)\) has no default input axis"),
    (jinit.lecun_normal(), (), jnp.float32, ValueError, r"rank 0"),
    (jinit.lecun_normal(), (4, 5), jnp.int32, TypeError,
     r"jinit\.lecun_normal: dtype must be a floating-point or complex dtype .* got int32"),
    (jinit.uniform(), (4, 5), jnp.complex64, TypeError,
     r"jinit\.uniform: dtype must be a floating-point dtype .* got complex64"),
    (jinit.truncated_normal(), (4, 5), jnp.int8, TypeError, r"jinit\.truncated_normal: dtype"),
    (jinit.random_uniform(), (4, 5), jnp.complex64, TypeError, r"jinit\.random_uniform"),
    (jinit.orthogonal(), (4, 5), jnp.int32, TypeError, r"jinit\.orthogonal: dtype"),
    (jinit.he_normal(in_axis=5), (3, 4), jnp.float32, ValueError,
     r"in_axis=5 is out of range for a shape of rank 2; allowed axes are -2\.\.1"),
    (jinit.he_normal(batch_axis=(0, -3)), (3, 4, 5), jnp.float32, ValueError,
     r"batch_axis=\(0, -3\) names the same axis twice"),
    (jinit.normal(1e5), (4, 5), jnp.float16, ValueError,
     r"jinit\.normal: stddev x 10 1e\+06 overflows float16 \(largest finite value 65504\)"),
    (jinit.uniform(1e6), (4, 5), jnp.float16, ValueError, r"scale 1e\+06 overflows float16"),
    (jinit.variance_scaling(1e12, "fan_in", "normal"), (4, 5), jnp.float16, ValueError,
     r"overflows float16"),
    (jinit.variance_scaling(1e-9, "fan_in", "normal"), (1000, 5), jnp.float16, ValueError,
     r"the variance 1e-12 underflows float16 to 0; use a wider dtype"),
    (jinit.random_normal(0.0, 1e39 / 11), (4,), jnp.float32, ValueError, r"overflows float32"),
    (jinit.orthogonal(), (5,), jnp.float32, ValueError,
     r"jinit\.orthogonal: needs a shape of rank >= 2, got \(5,\)"),
    (jinit.orthogonal(column_axis=2), (3, 4), jnp.float32, ValueError,
     r"column_axis=2 is out of range"),
    (jinit.delta_orthogonal(), (3, 3), jnp.float32, ValueError, r"needs a 3-D, 4-D or 5-D"),
    (jinit.delta_orthogonal(), (3, 3, 8, 4), jnp.float32, ValueError,
     r"needs in <= out .* got in=8, out=4"),
    (jinit.identity(), (3, 3, 3), jnp.float32, ValueError,
     r"jinit\.identity: needs a 2-D shape \(in, out\), got \(3, 3, 3\)"),
    (jinit.dirac(), (4, 4), jnp.float32, ValueError, r"jinit\.dirac: needs a kernel of rank >= 3"),
    (jinit.dirac(groups=3), (3, 3, 4, 8), jnp.float32, ValueError,
     r"the output size 8 \(axis 3\) must be divisible by groups=3"),
    (jinit.dirac(in_axis=0, out_axis=-3), (3, 3, 4), jnp.float32, ValueError,
     r"in_axis and out_axis must differ"),
    (jinit.constant([1.0, 2.0, 3.0]), (4, 4), jnp.float32, ValueError,
     r"^jinit\.constant: value of shape \(3,\) does not broadcast to the requested shape "
     r"\(4, 4\)"),
    (jinit.constant(np.ones((1, 5))), (5,), jnp.float32, ValueError,
     r"value of shape \(1, 5\) does not broadcast to the requested shape \(5,\)"),
    (jinit.constant(1e30), (), jnp.float16, ValueError,
     r"^jinit\.constant: value 1e\+30 overflows float16 \(largest finite value 65504\)"),
    (jinit.constant([1.0, -7e4]), (2,), jnp.float16, ValueError,
     r"value\[1\] = -70000 overflows float16 \(largest finite value 65504\)"),
    (jinit.constant(1e39), (3,), jnp.bfloat16, ValueError,
     r"value 1e\+39 overflows bfloat16 \(largest finite value 3\.38953e\+38\)"),
    (jinit.constant(1e39), (3,), None, ValueError, r"value 1e\+39 overflows float32"),
    (jinit.constant(complex(1.0, -1e39)), (3,), jnp.complex64, ValueError,
     r"the imaginary part of value -1e\+39 overflows complex64 \(largest finite value "
     r"3\.40282e\+38 for the real and the imaginary part\)"),
    (jinit.constant(300), (2,), jnp.int8, ValueError,
     r"^jinit\.constant: value 300 does not fit int8 \(allowed: integers from -128 to "
     r"127\)"),
    (jinit.constant(-1), (2,), jnp.uint8, ValueError, r"value -1 does not fit uint8"),
    (jinit.constant(1.5), (2,), jnp.int32, ValueError,
     r"^jinit\.constant: value 1\.5 is not an integer; int32 would truncate it to 1\."),
    (jinit.constant(1 + 2j), (2,), jnp.float32, TypeError,
     r"^jinit\.constant: value \(1\+2j\) is complex but dtype float32 is not complex"),
    (jinit.constant(1 + 0j), (2,), jnp.int32, TypeError, r"value \(1\+0j\) is complex"),
    (jinit.constant(2), (2,), jnp.bool_, ValueError,
     r"^jinit\.constant: value 2 is not 0 or 1; bool"),
]


@pytest.mark.parametrize(("init", "shape", "dtype", "error", "pattern"), INIT_ERRORS,
                         ids=[p for *_, p in INIT_ERRORS])
def test_initializer_rejects_bad_calls(init: jinit.Initializer, shape: object, dtype: object,
                                       error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        init(KEY, shape, dtype)  # type: ignore[arg-type]
    with pytest.raises(error, match=pattern):  # the same error under jit, at trace time
        jax.jit(init, static_argnums=(1, 2))(KEY, shape, dtype)


def test_constant_broadcasts_array_values_like_jax() -> None:
    for value, shape in (([1.0, 2.0, 3.0], (2, 3)), (np.arange(4.0).reshape(4, 1), (4, 3)),
                         (-0.5, (2, 2)), ([[2.0]], (3, 3))):
        ours = jinit.constant(value)(KEY, shape, jnp.float32)
        # JAX's jnp.full takes no lists: give it the NumPy array jinit builds from one.
        theirs = jax.nn.initializers.constant(np.asarray(value))(KEY, shape, jnp.float32)
        assert ours.shape == shape
        np.testing.assert_array_equal(
            np.asarray(ours).view(np.uint8), np.asarray(theirs).view(np.uint8)
        )


def test_constant_refuses_an_unrepresentable_default_dtype_at_once() -> None:
    with pytest.raises(ValueError, match=r"^jinit\.constant: value 300 does not fit int8"):
        jinit.constant(300, dtype=jnp.int8)
    with pytest.raises(ValueError, match=r"value 1e\+30 overflows float16"):
        jinit.constant(1e30, jnp.float16)


def test_constant_accepts_values_the_dtype_holds() -> None:
    assert float(jinit.constant(65504.0)(KEY, (), jnp.float16)) == 65504.0
    assert jinit.constant(-128)(KEY, (2,), jnp.int8).tolist() == [-128, -128]
    assert jinit.constant(2.0)(KEY, (2,), jnp.int32).tolist() == [2, 2]
    assert jinit.constant([0, 1])(KEY, (2,), jnp.bool_).tolist() == [False, True]
    assert jinit.constant(True)(KEY, (1,), jnp.bool_).tolist() == [True]
    assert jinit.constant(1 + 2j)(KEY, (1,), jnp.complex64).tolist() == [1 + 2j]
    assert jinit.constant(3)(KEY, (1,), jnp.float16).tolist() == [3.0]


def test_constant_of_a_traced_value_still_works() -> None:
    def fill(value: jax.Array) -> jax.Array:
        return jinit.constant(value)(KEY, (2, 3))

    assert jax.jit(fill)(jnp.float32(4.0)).tolist() == [[4.0] * 3] * 2
    assert jax.jit(fill)(jnp.arange(3.0)).tolist() == [[0.0, 1.0, 2.0]] * 2
    with pytest.raises(ValueError, match=r"value of shape \(4,\) does not broadcast"):
        jax.jit(fill)(jnp.arange(4.0))


def test_compute_fans_errors() -> None:
    with pytest.raises(ValueError, match=r"compute_fans: a weight of rank 1"):
        jinit.compute_fans((5,))
    with pytest.raises(ValueError, match=r"out_axis=\(1, 3\) is out of range"):
        jinit.compute_fans((2, 3, 4), in_axis=0, out_axis=(1, 3))
    with pytest.raises(TypeError, match=r"in_axis must be an int or a sequence of ints"):
        jinit.compute_fans((2, 3), in_axis=None)  # type: ignore[arg-type]


def test_traced_scale_is_a_clear_type_error() -> None:
    def build(scale: jax.Array) -> jax.Array:
        return jinit.variance_scaling(scale, "fan_in", "normal")(KEY, (3, 4))  # type: ignore[arg-type]

    with pytest.raises(TypeError, match=r"scale must be a concrete real number .* traced value"):
        jax.jit(build)(jnp.float32(1.0))


def test_concrete_array_scalars_are_accepted() -> None:
    w = jinit.variance_scaling(jnp.float32(2.0), "fan_in", "normal")(KEY, (30, 4))
    assert w.shape == (30, 4)
    assert jinit.normal(np.float64(0.1))(KEY, (2,)).shape == (2,)


def test_zero_size_shapes_give_empty_arrays_not_zero_division() -> None:
    for init in (jinit.he_normal(), jinit.glorot_uniform(), jinit.orthogonal(),
                 jinit.variance_scaling(1.0, "fan_geo_avg", "truncated_normal")):
        for shape in ((0, 5), (5, 0), (3, 3, 0, 8), (0, 0)):
            assert init(KEY, shape).shape == shape
    assert jinit.compute_fans((0, 5)) == (0.0, 0.0, 0.0)


def test_jax_has_these_problems_that_jinit_fixes() -> None:
    """What the issue measured on jax.nn.initializers, checked, so docs/mistakes.md stays honest."""
    jni = jax.nn.initializers
    assert bool(jnp.isnan(jni.variance_scaling(-1.0, "fan_in", "normal")(KEY, (4, 4))).all())
    with pytest.raises(ZeroDivisionError):
        jni.he_normal()(KEY, (0, 5))
    jni.variance_scaling(1.0, "fan-in", "normal")  # accepted: fails only when called
    with pytest.raises(ValueError, match="invalid mode"):
        jni.variance_scaling(1.0, "fan-in", "normal")(KEY, (4, 4))
