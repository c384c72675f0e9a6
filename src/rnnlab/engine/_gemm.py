"""rnnlab's own matrix product for the per-step recurrent products, callable from numba code.

    gemm_nn(M, N, K, a, lda, ka, b, ldb, beta, c, ldc)
        c (M, N) = a (M, K) @ b (K, N) + beta * c, beta 0 or 1; a, b, c are arrays whose first
        element is the first element of the operand; element (r, k) of a is a[r*lda + k*ka] (ka = 1:
        row-major, lda = 1: a transposed matrix), rows of b and c are contiguous, ldb and ldc apart.

Why: a time step's product is small ((4H, H) by (H, B) with B 16-64), and a BLAS spends a
large part of it packing operands and choosing kernels; OpenBLAS also picks its kernels from
``OPENBLAS_CORETYPE``, which some machines set to an AVX2 core on an AVX-512 CPU. Here each
block of MR rows by one or two vectors of columns of c is one loop over K written directly in
LLVM IR (``_microkernel``): the MR x NV accumulators stay in vector registers, a row of b is
NV vector loads, each a[r, k] is broadcast once and multiplied into its row's vectors by fused
multiply-adds; c is written once at the end. Nothing is packed: b's rows are read in place
(a time step's b is the (H, B) state block or the (4H, B) gate gradients, in the cache).

Vectors have 16 float32 or 8 float64 lanes (one AVX-512 register); a last partial vector of
columns is loaded and stored under a mask. On a CPU without AVX-512 LLVM splits each vector in
two, which runs but is not faster than a BLAS: ``preferred()`` says whether to use it.
"""
import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload



def preferred():
    """True on a CPU with AVX-512 (LLVM's host features), where this product beats OpenBLAS's kernels
    at the per-step shapes (docs/benchmarks.md)."""
    return "+avx512f" in llvm.get_host_cpu_features().flatten().split(",")


def _microkernel(MR, NV):
    """An intrinsic: c[oc + r*ldc + v*L + l] (+)= sum_k a[oa + r*lda + k*ka] * b[ob + k*ldb + v*L + l] for
    r < MR, v < NV, lanes l < L (the last vector's first ``nlast`` lanes only); L = 16 float32 or 8
    float64 lanes."""

    @intrinsic
    def kernel(typingctx, a, oa, lda, ka, b, ob, ldb, c, oc, ldc, K, accumulate, nlast):
        sig = types.void(a, oa, lda, ka, b, ob, ldb, c, oc, ldc, K, accumulate, nlast)

        def codegen(context, builder, sig, args):
            a_, oa, lda, ka, b_, ob, ldb, c_, oc, ldc, K, accumulate, nlast = args
            pa = context.make_array(sig.args[0])(context, builder, a_).data
            pb = context.make_array(sig.args[4])(context, builder, b_).data
            pc = context.make_array(sig.args[7])(context, builder, c_).data
            real = pa.type.pointee
            f32 = isinstance(real, ir.FloatType)
            L, size = (16, 4) if f32 else (8, 8)
            vec = ir.VectorType(real, L)
            i1, i32, i64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
            bits = ir.VectorType(i1, L)
            name = "v%d%s" % (L, "f32" if f32 else "f64")
            module = builder.module
            fma = cgutils.get_or_insert_function(module, ir.FunctionType(vec, [vec, vec, vec]), "llvm.fma." + name)
            mload = cgutils.get_or_insert_function(module, ir.FunctionType(vec, [vec.as_pointer(), i32, bits, vec]),
                                                   "llvm.masked.load.%s.p0" % name)
            mstore = cgutils.get_or_insert_function(
                module, ir.FunctionType(ir.VoidType(), [vec, vec.as_pointer(), i32, bits]),
                "llvm.masked.store.%s.p0" % name)
            wide = ir.VectorType(i64, L)           # the mask: lane l < nlast
            n = builder.insert_element(ir.Constant(wide, None), builder.sext(nlast, i64)
                                       if nlast.type.width < 64 else nlast, i32(0))
            n = builder.shuffle_vector(n, ir.Constant(wide, None), ir.Constant(ir.VectorType(i32, L), [0] * L))
            mask = builder.icmp_signed("<", ir.Constant(wide, list(range(L))), n)

            def load(ptr, partial):
                ptr = builder.bitcast(ptr, vec.as_pointer())
                if partial:
                    return builder.call(mload, [ptr, i32(size), mask, ir.Constant(vec, [0.0] * L)])
                return builder.load(ptr, align=size)

            def store(value, ptr, partial):
                ptr = builder.bitcast(ptr, vec.as_pointer())
                if partial:
                    builder.call(mstore, [value, ptr, i32(size), mask])
                else:
                    builder.store(value, ptr, align=size)

            zero = ir.Constant(vec, [0.0] * L)
            entry = builder.basic_block
            loop = builder.append_basic_block("gemm_k")
            done = builder.append_basic_block("gemm_store")
            builder.cbranch(builder.icmp_signed(">", K, i64(0)), loop, done)

            builder.position_at_end(loop)          # one k: NV loads of b's row, MR broadcasts, MR*NV FMAs
            k = builder.phi(i64)
            k.add_incoming(i64(0), entry)
            acc = [[builder.phi(vec) for _ in range(NV)] for _ in range(MR)]
            brow = builder.gep(pb, [builder.add(ob, builder.mul(k, ldb))])
            bv = [load(builder.gep(brow, [i64(v * L)]), v == NV - 1) for v in range(NV)]
            new = []
            for r in range(MR):
                at = builder.add(oa, builder.add(builder.mul(i64(r), lda), builder.mul(k, ka)))
                ar = builder.load(builder.gep(pa, [at]))
                ar = builder.insert_element(ir.Constant(vec, None), ar, i32(0))
                ar = builder.shuffle_vector(ar, ir.Constant(vec, None), ir.Constant(ir.VectorType(i32, L), [0] * L))
                new.append([builder.call(fma, [ar, bv[v], acc[r][v]]) for v in range(NV)])
            k1 = builder.add(k, i64(1))
            k.add_incoming(k1, loop)
            for r in range(MR):
                for v in range(NV):
                    acc[r][v].add_incoming(zero, entry)
                    acc[r][v].add_incoming(new[r][v], loop)
            builder.cbranch(builder.icmp_signed("<", k1, K), loop, done)

            builder.position_at_end(done)          # c = acc, or c + acc
            total = [[builder.phi(vec) for _ in range(NV)] for _ in range(MR)]
            for r in range(MR):
                for v in range(NV):
                    total[r][v].add_incoming(zero, entry)
                    total[r][v].add_incoming(new[r][v], loop)
            add = builder.icmp_unsigned("!=", accumulate, ir.Constant(accumulate.type, 0))
            for r in range(MR):
                crow = builder.gep(pc, [builder.add(oc, builder.mul(i64(r), ldc))])
                for v in range(NV):
                    ptr = builder.gep(crow, [i64(v * L)])
                    partial = v == NV - 1
                    with builder.if_else(add) as (then, otherwise):
                        with then:
                            store(builder.fadd(total[r][v], load(ptr, partial)), ptr, partial)
                        with otherwise:
                            store(total[r][v], ptr, partial)
            return context.get_dummy_value()

        return sig, codegen

    return kernel


# Blocks of two vectors of columns (rows 8, then 4, 2, 1 for the last rows) and of one vector (rows 16, 8, 4, 2,
# 1); a block's last vector is loaded and stored under a mask (all lanes but at the right edge of c).
_t8, _t4, _t2, _t1 = (_microkernel(m, 2) for m in (8, 4, 2, 1))
_o16, _o8, _o4, _o2, _o1 = (_microkernel(m, 1) for m in (16, 8, 4, 2, 1))


KC = 256            # rows of b per pass (a block of b stays in the L2 cache for all of a's rows)


def gemm_nn(M, N, K, a, lda, ka, b, ldb, beta, c, ldc):
    """Python callers use NumPy; this body only names the function that numba compiles (below)."""
    raise NotImplementedError("gemm_nn is callable from numba-compiled code only")


@overload(gemm_nn)
def _gemm_nn(M, N, K, a, lda, ka, b, ldb, beta, c, ldc):
    def impl(M, N, K, a, lda, ka, b, ldb, beta, c, ldc):
        if K <= 0:
            _panels(M, N, 0, a, 0, lda, ka, b, 0, ldb, beta != 0, c, 0, ldc)
        for k0 in range(0, K, KC):
            _panels(M, N, min(KC, K - k0), a, k0 * ka, lda, ka, b, k0 * ldb, ldb, k0 > 0 or beta != 0, c, 0, ldc)
    return impl


def _panels(M, N, K, a, oa, lda, ka, b, ob, ldb, acc, c, oc, ldc):
    raise NotImplementedError


@overload(_panels)
def _panels_impl(M, N, K, a, oa, lda, ka, b, ob, ldb, acc, c, oc, ldc):
    L = 16 if a.dtype == types.float32 else 8

    def impl(M, N, K, a, oa, lda, ka, b, ob, ldb, acc, c, oc, ldc):
        j = 0
        while N - j > L:                           # panels of two vectors (the second may be partial)
            n = min(L, N - j - L)
            i = 0
            while i + 8 <= M:
                _t8(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
                i += 8
            if M - i >= 4:
                _t4(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
                i += 4
            if M - i >= 2:
                _t2(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
                i += 2
            if M - i >= 1:
                _t1(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
            j += L + n
        if j < N:                                  # a last panel of one vector (may be partial)
            n = N - j
            i = 0
            while i + 16 <= M:
                _o16(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
                i += 16
            if M - i >= 8:
                _o8(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
                i += 8
            if M - i >= 4:
                _o4(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
                i += 4
            if M - i >= 2:
                _o2(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
                i += 2
            if M - i >= 1:
                _o1(a, oa + i * lda, lda, ka, b, ob + j, ldb, c, oc + i * ldc + j, ldc, K, acc, n)
    return impl

