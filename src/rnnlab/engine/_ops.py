"""Shared pieces of the cell loops: input projections, BPTT chunks, masks."""
import numpy as np

# BPTT turns the per-step gate gradients into weight gradients a chunk of steps at a
# time, so only CHUNK_ROWS (= steps * batch) rows of gate gradients live at once
# instead of T * B; 256 rows keep those GEMMs within a few percent of 512 rows' speed.
CHUNK_ROWS = 256


# Per-step products with B rows: OpenBLAS runs (B, K) @ (K, N) as its transpose (N, K) @ (K, B)
# 1.2-2.3x faster when 16 <= B <= 32 and K, N >= 256 (measured with its Haswell and SkylakeX
# kernels; slower for B = 64 or small K, N), even with the transposed copy back. A rule on the
# shape, not a timing, picks the form, so that a run is reproducible bit for bit.
FLIP = {"min_batch": 16, "max_batch": 32, "min_size": 256}


def flipped(B, W):
    """Whether a per-step product of B rows with W (either side) runs in its transposed form."""
    return FLIP["min_batch"] <= B <= FLIP["max_batch"] and min(W.shape) >= FLIP["min_size"]


class StepProduct:
    """out (B, N) = a (B, K) @ W.T (``transpose=True``) or a @ W, for one step's rows a.

    Holds W (or W.T) C-contiguous in the layout its form needs, so each call is one GEMM
    (and, flipped, one transposed copy into out).
    """

    def __init__(self, W, B, transpose):
        M = W.T if transpose else W                                  # (K, N) view
        K, N = M.shape
        self.flip = flipped(B, W)
        if self.flip:
            self.left = np.ascontiguousarray(M.T)                    # (N, K): out.T = left @ a.T
            self.tmp = np.empty((N, B), dtype=W.dtype)
        else:
            self.right = np.ascontiguousarray(M)                     # (K, N): out = a @ right

    def __call__(self, a, out):
        if self.flip:
            np.matmul(self.left, a.T, out=self.tmp)
            np.copyto(out, self.tmp.T)
        else:
            np.matmul(a, self.right, out=out)
        return out


def product(a, b, out):
    """out = a @ b, for the per-step recurrent products of the feature-major paths."""
    return np.matmul(a, b, out=out)


def input_projection(x, W, b, out=None):
    """All time steps' input projections in one GEMM: (T, B, I) -> (T, B, G), C-contiguous per step.

    A reversed view (x[::-1], as the layer passes the backward direction) is
    projected in memory order and the result reversed, so nothing is copied.
    ``out`` (T, B, G), C-contiguous, receives the result when x is in memory order
    (a reversed x gets a new array).
    """
    T, B, I = x.shape
    flip = x.strides[0] < 0
    if flip:
        x = x[::-1]
    if out is not None and not flip and out.flags.c_contiguous and out.dtype == np.result_type(x, W):
        np.matmul(_rows(x), W.T, out=out.reshape(T * B, W.shape[0]))   # W.T: as fast as a copy, without it
    else:
        out = np.matmul(_rows(x), W.T).reshape(T, B, W.shape[0])
    if b is not None:
        out += b
    return out[::-1] if flip else out


def _rows(a):
    """(T, B, K) -> (T*B, K), a view when the memory allows it, else a copy."""
    return a.reshape(-1, a.shape[-1])


def step_mask(mask, t, empty):
    """The (B,) 0/1 mask of step t, or the empty array that stands for "no mask"."""
    return empty if mask is None else mask[t, :, 0]


def no_mask(dtype):
    return np.empty(0, dtype=dtype)


def chunk_steps(T, B):
    """Steps per chunk of BPTT's weight-gradient products: about CHUNK_ROWS rows of B each."""
    return max(1, min(T, CHUNK_ROWS // max(B, 1)))


def chunks(T, B):
    """(t0, t1) blocks of steps, latest first, each about CHUNK_ROWS rows."""
    K = chunk_steps(T, B)
    return [(max(0, t1 - K), t1) for t1 in range(T, 0, -K)], K


def bptt_chunk(T, t1, n):
    """Steps in the feature-major LSTM's BPTT chunk that ends at step t1: up to n, and no more than the T - t1
    steps already done, whose gates' memory then holds the chunk's gate gradients (1 for the first chunk,
    which has a buffer of its own). Compiled as is by ``_numba_loops``."""
    return min(n, t1, max(1, T - t1))


def dy_chunks(dy, n_max, dtype):
    """A function (t0, t1) -> dy[t0:t1] as a C-contiguous array, for the kernels: a view when dy
    already is C-contiguous, else a copy into one reused (n_max, B, H) buffer (e.g. a reversed
    direction's dy, or one direction's half of a bidirectional layer's dy)."""
    if dy.flags.c_contiguous and dy.dtype == dtype:
        return lambda t0, t1: dy[t0:t1]
    buf = np.empty((n_max,) + dy.shape[1:], dtype=dtype)

    def chunk(t0, t1):
        out = buf[: t1 - t0]
        out[...] = dy[t0:t1]
        return out

    return chunk


class WeightGrads:
    """dW_ih, dW_hh and db accumulated chunk by chunk: dW += dA^T inputs over the chunk's rows.

    The first chunk's products are the gradients themselves. Later chunks' products are added by
    ``acc`` (the compiled backends' ``gemm_acc``: a GEMM that adds into the sum) or, without it,
    computed into a temporary (made when there is a second chunk) and added.
    """

    def __init__(self, W_ih, W_hh, bias, dtype, separate_bias=False, acc=None):
        self._shapes = {"W_ih": W_ih.shape, "W_hh": W_hh.shape}
        self._dtype = dtype
        self._gemm_acc = acc
        self._sums, self._tmps = {}, {}
        self.db = np.zeros(W_hh.shape[0], dtype=dtype) if bias else None
        self.db_hh = np.zeros(W_hh.shape[0], dtype=dtype) if bias and separate_bias else None

    def _acc(self, name, a, b):
        """self[name] += a @ b."""
        if name not in self._sums:
            self._sums[name] = np.matmul(a, b).astype(self._dtype, copy=False)
            return
        c = self._sums[name]
        if self._gemm_acc is not None and b.flags.c_contiguous and a.dtype == b.dtype == c.dtype:
            if a.flags.c_contiguous:
                return self._gemm_acc(False, a, b, c)
            if a.T.flags.c_contiguous:
                return self._gemm_acc(True, a.T, b, c)
        if name not in self._tmps:
            self._tmps[name] = np.empty(self._shapes[name], dtype=self._dtype)
        np.matmul(a, b, out=self._tmps[name])
        self._sums[name] += self._tmps[name]

    def add(self, dA_ih, x, dA_hh, h_prev):
        """dA_* (n, B, G) gate gradients of steps [t0, t0+n); x (n, B, I); h_prev (n, B, H)."""
        a, ah = _rows(dA_ih), _rows(dA_hh)
        self._acc("W_ih", a.T, _rows(x))
        self._acc("W_hh", ah.T, _rows(h_prev))
        if self.db is not None:
            self.db += _ones(a.shape[0], a.dtype) @ a
        if self.db_hh is not None:
            self.db_hh += _ones(ah.shape[0], ah.dtype) @ ah

    def add_fm(self, dA_ih, x, dA_hh, h_prev):
        """Feature-major: dA_* (G, n*B) gate gradients of n steps; x (n, B, I); h_prev (n, B, H)."""
        self._acc("W_ih", dA_ih, _rows(x))
        self._acc("W_hh", dA_hh, _rows(h_prev))
        if self.db is not None:
            self.db += dA_ih @ _ones(dA_ih.shape[1], dA_ih.dtype)
        if self.db_hh is not None:
            self.db_hh += dA_hh @ _ones(dA_hh.shape[1], dA_hh.dtype)

    def dict(self):
        grads = {name: self._sums[name] if name in self._sums else np.zeros(shape, dtype=self._dtype)
                 for name, shape in self._shapes.items()}
        if self.db is not None:
            grads["b_ih"] = self.db
            grads["b_hh"] = self.db.copy() if self.db_hh is None else self.db_hh
        return grads


def _ones(n, dtype):
    """A vector of ones: the bias gradient as a matrix-vector product (BLAS, 4-8x faster than .sum)."""
    return np.ones(n, dtype=dtype)


class InputGrad:
    """dx = dA W_ih, written chunk by chunk into a (B, T, I) buffer and returned as its (T, B, I) view.

    The layer turns dx back to batch-first with ascontiguousarray(dx.transpose(1, 0, 2)),
    which is then free: the memory already is batch-first.
    """

    def __init__(self, T, B, I, K, dtype):
        self.buf = np.empty((B, T, I), dtype=dtype)
        self._tmp = np.empty((K, B, I), dtype=dtype)

    def add(self, dA, W_ih, t0):
        n = dA.shape[0]
        tmp = self._tmp[:n]
        np.matmul(_rows(dA), W_ih, out=tmp.reshape(-1, tmp.shape[-1]))
        self.buf[:, t0 : t0 + n] = tmp.transpose(1, 0, 2)

    def result(self):
        return self.buf.transpose(1, 0, 2)                      # (T, B, I)
