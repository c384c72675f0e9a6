"""Linear and Embedding equal torch.nn.Linear / torch.nn.Embedding in float64, and pass finite differences."""
import numpy as np
import pytest

from rnnlab.gradcheck import check_layer_grads
from rnnlab.layers import Embedding, Linear

from conftest import assert_close

torch = pytest.importorskip("torch")

TOL = 1e-10


# ---------------------------------------------------------------------- Linear
@pytest.mark.parametrize("shape,bias", [((5, 3), True), ((2, 4, 3), True), ((2, 4, 3), False), ((3,), True)])
def test_linear_matches_torch(shape, bias):
    rng = np.random.default_rng(0)
    ours = Linear(3, 6, bias=bias, dtype=np.float64, seed=1)
    ref = torch.nn.Linear(3, 6, bias=bias).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    assert list(ours.params) == list(ref.state_dict())
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape[:-1] + (6,))

    y, cache = ours.forward(x)
    dx, grads = ours.backward(dy, cache)
    xt = torch.from_numpy(x).requires_grad_()
    yt = ref(xt)
    (yt * torch.from_numpy(dy)).sum().backward()

    assert_close("y", y, yt.detach().numpy(), TOL)
    assert_close("dx", dx, xt.grad.numpy(), TOL)
    for name, p in ref.named_parameters():
        assert_close(f"d{name}", grads[name], p.grad.numpy(), TOL)


def test_linear_init_is_pytorch_uniform():
    layer = Linear(50, 40, seed=0)
    bound = 1 / np.sqrt(50)
    for name, p in layer.params.items():
        assert p.dtype == np.float32
        assert np.abs(p).max() <= bound, name
        assert np.abs(p).max() > 0.9 * bound, name   # spans the interval, not a narrower one
    assert Linear(50, 40, seed=0).params["weight"].tobytes() == layer.params["weight"].tobytes()


@pytest.mark.parametrize("bias", [True, False])
def test_linear_finite_differences(bias):
    layer = Linear(4, 3, bias=bias, dtype=np.float64, seed=2)
    errors = check_layer_grads(layer, np.random.default_rng(3).standard_normal((2, 5, 4)))
    assert set(errors) == {"x", "weight"} | ({"bias"} if bias else set())


def test_linear_rejects_bad_input():
    layer = Linear(4, 3)
    with pytest.raises(ValueError, match="last dimension 4"):
        layer.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="float64 but the parameters are float32"):
        layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="positive integer"):
        Linear(0, 3)


# ---------------------------------------------------------------------- Embedding
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_matches_torch(padding_idx):
    rng = np.random.default_rng(4)
    V, E = 7, 5
    ours = Embedding(V, E, padding_idx=padding_idx, dtype=np.float64, seed=0)
    ref = torch.nn.Embedding(V, E, padding_idx=padding_idx).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    if padding_idx is not None:
        assert not ours.params["weight"][padding_idx].any()
    ids = rng.integers(0, V, size=(3, 11))
    ids[0, :4] = 2                                    # repeated ids must accumulate
    if padding_idx is not None:
        ids[1, :3] = padding_idx % V
    dy = rng.standard_normal((3, 11, E))

    y, cache = ours.forward(ids)
    grads = ours.backward(dy, cache)
    yt = ref(torch.from_numpy(ids))
    (yt * torch.from_numpy(dy)).sum().backward()

    assert_close("y", y, yt.detach().numpy(), TOL)
    assert_close("dweight", grads["weight"], ref.weight.grad.numpy(), TOL)


def test_embedding_init_is_standard_normal():
    w = Embedding(200, 100, padding_idx=3, seed=0).params["weight"]
    assert w.dtype == np.float32
    assert not w[3].any()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


def test_embedding_finite_differences():
    layer = Embedding(9, 4, padding_idx=0, dtype=np.float64, seed=5)
    ids = np.random.default_rng(6).integers(1, 9, size=(2, 7))   # the padding row's grad is 0 by design
    assert set(check_layer_grads(layer, ids)) == {"weight"}


def test_embedding_backward_empty_batch():
    layer = Embedding(4, 3, dtype=np.float64)
    y, cache = layer.forward(np.zeros((0, 5), np.int64))
    assert y.shape == (0, 5, 3)
    assert not layer.backward(np.zeros((0, 5, 3)), cache)["weight"].any()


def test_embedding_rejects_bad_ids():
    layer = Embedding(10, 3)
    with pytest.raises(ValueError, match=r"id 12 .* 10 rows \(max id 9\)"):
        layer.forward(np.array([[1, 12]]))
    with pytest.raises(ValueError, match="negative id"):
        layer.forward(np.array([-1]))
    with pytest.raises(ValueError, match="integer array"):
        layer.forward(np.array([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(10, 3, padding_idx=10)


def test_load_pretrained_dict_and_pair():
    vocab = ["<pad>", "the", "Cat", "sat", "zyzzyva"]
    vecs = {"the": np.full(3, 1.0), "cat": np.full(3, 2.0), "sat": np.full(3, 3.0)}
    layer = Embedding(5, 3, padding_idx=0, dtype=np.float64, seed=0)
    before = layer.params["weight"].copy()
    coverage = layer.load_pretrained(vecs, vocab, freeze=True)
    w = layer.params["weight"]
    assert coverage == 3 / 4                          # the padding row does not count
    assert not w[0].any()
    assert_close("the", w[1], np.full(3, 1.0), 0)
    assert_close("Cat via lower-case", w[2], np.full(3, 2.0), 0)
    assert_close("unknown row untouched", w[4], before[4], 0)
    assert layer.frozen

    layer2 = Embedding(5, 3, padding_idx=0, dtype=np.float64, seed=0)
    words, matrix = list(vecs), np.stack(list(vecs.values()))
    assert layer2.load_pretrained((words, matrix), vocab, lowercase_fallback=False) == 2 / 4
    assert not layer2.frozen


def test_load_pretrained_rejects_mismatch():
    layer = Embedding(3, 4)
    with pytest.raises(ValueError, match="expected \\(4,\\)"):
        layer.load_pretrained({"a": np.zeros(3)}, ["a", "b", "c"])
    with pytest.raises(ValueError, match="2 tokens but the embedding has 3 rows"):
        layer.load_pretrained({}, ["a", "b"])
    with pytest.raises(ValueError, match="pair"):
        layer.load_pretrained((["a", "b"], np.zeros((3, 4))), ["a", "b", "c"])
