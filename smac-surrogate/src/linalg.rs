//! Small dense linear-algebra kernels for the Gaussian process (row-major `n × n` buffers).
//!
//! Hand-written instead of pulling in nalgebra/faer: the GP needs only a Cholesky
//! factorization, the inverse of the triangular factor and triangular solves on matrices of a
//! few hundred rows, and these loops are all contiguous dot products that the compiler
//! vectorizes well with the multi-accumulator [`dot`]. Everything is `#[inline(always)]` so
//! that it is compiled into the AVX2 variants of the callers (see [`crate::has_avx2`]).

/// Dot product with eight independent accumulators (lets the compiler vectorize without
/// reassociating a single floating-point chain).
#[inline(always)]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut acc = [0.0f64; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let (rest_a, rest_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (x, y) in chunks_a.zip(chunks_b) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (x, y) in rest_a.iter().zip(rest_b) {
        sum += x * y;
    }
    sum
}

/// In-place Cholesky factorization `A = L Lᵀ` of the lower triangle of the row-major `n × n`
/// matrix `a` (the strict upper triangle is ignored and left untouched). Returns the index of
/// the first non-positive pivot on failure.
///
/// Crout order (column by column): the dot products of one column are independent of each
/// other, so they overlap in the pipeline instead of forming one long dependency chain.
#[inline(always)]
pub(crate) fn cholesky(a: &mut [f64], n: usize) -> Result<(), usize> {
    for j in 0..n {
        let (head, tail) = a.split_at_mut(j * n + j);
        let row_j = &head[j * n..];
        let pivot = tail[0] - dot(row_j, row_j);
        let positive = pivot > 0.0 && pivot.is_finite();
        if !positive {
            return Err(j);
        }
        let ljj = pivot.sqrt();
        tail[0] = ljj;
        let inv = 1.0 / ljj;
        for i in j + 1..n {
            let row_i = &mut tail[(i - j) * n - j..(i - j) * n + 1];
            row_i[j] = (row_i[j] - dot(&row_i[..j], row_j)) * inv;
        }
    }
    Ok(())
}

/// Computes `U = (L⁻¹)ᵀ` (upper triangular, row-major) from the Cholesky factor `l`.
/// Only the upper triangle of `u` is written; the strict lower triangle is set to zero.
#[inline(always)]
pub(crate) fn inverse_factor_transposed(l: &[f64], n: usize, u: &mut [f64]) {
    u[..n * n].fill(0.0);
    // Row j of U is column j of L⁻¹ (the solution of L x = e_j). Column i of U depends only
    // on columns < i, so the dot products for one i are independent of each other.
    for i in 0..n {
        let inv = 1.0 / l[i * n + i];
        u[i * n + i] = inv;
        let l_row = &l[i * n..i * n + i];
        for j in 0..i {
            let s = dot(&l_row[j..], &u[j * n + j..j * n + i]);
            u[j * n + i] = -s * inv;
        }
    }
}

/// Computes the full symmetric `W = A⁻¹ = L⁻ᵀ L⁻¹` from `U = (L⁻¹)ᵀ`.
#[inline(always)]
pub(crate) fn inverse_from_factor(u: &[f64], n: usize, w: &mut [f64]) {
    for a in 0..n {
        for b in 0..=a {
            // Entries below the diagonal of U are zero, so the sum starts at k = a.
            let v = dot(&u[a * n + a..(a + 1) * n], &u[b * n + a..(b + 1) * n]);
            w[a * n + b] = v;
            w[b * n + a] = v;
        }
    }
}

/// Solves `L z = y` (forward substitution) in place.
#[inline(always)]
pub(crate) fn solve_lower(l: &[f64], n: usize, y: &mut [f64]) {
    for i in 0..n {
        let s = dot(&l[i * n..i * n + i], &y[..i]);
        y[i] = (y[i] - s) / l[i * n + i];
    }
}

/// Solves `Lᵀ x = z` (backward substitution) in place.
#[inline(always)]
pub(crate) fn solve_lower_transposed(l: &[f64], n: usize, z: &mut [f64]) {
    for i in (0..n).rev() {
        let mut s = z[i];
        for k in i + 1..n {
            s -= l[k * n + i] * z[k];
        }
        z[i] = s / l[i * n + i];
    }
}

/// Offset of row `i` in a packed row-major lower-triangular matrix (row `i` has `i + 1` entries).
#[inline(always)]
pub(crate) fn packed_row(i: usize) -> usize {
    i * (i + 1) / 2
}

/// `out = P x` for the packed lower-triangular `n × n` matrix `p`.
#[inline(always)]
pub(crate) fn packed_lower_matvec(p: &[f64], n: usize, x: &[f64], out: &mut [f64]) {
    for (i, o) in out[..n].iter_mut().enumerate() {
        let off = packed_row(i);
        *o = dot(&p[off..off + i + 1], &x[..i + 1]);
    }
}

/// `out = Pᵀ x` for the packed lower-triangular `n × n` matrix `p` (row-wise axpy, contiguous).
#[inline(always)]
pub(crate) fn packed_lower_t_matvec(p: &[f64], n: usize, x: &[f64], out: &mut [f64]) {
    out[..n].fill(0.0);
    for (i, &xi) in x[..n].iter().enumerate() {
        let off = packed_row(i);
        for (o, &v) in out[..i + 1].iter_mut().zip(&p[off..off + i + 1]) {
            *o += v * xi;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(n: usize) -> Vec<f64> {
        // A = B Bᵀ + n I for a fixed B.
        let b: Vec<f64> = (0..n * n).map(|k| ((k * 7919) % 13) as f64 / 13.0 - 0.5).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] =
                    dot(&b[i * n..(i + 1) * n], &b[j * n..(j + 1) * n]) + if i == j { n as f64 } else { 0.0 };
            }
        }
        a
    }

    #[test]
    fn cholesky_inverse_and_solves_agree() {
        let n = 9;
        let a = spd(n);
        let mut l = a.clone();
        cholesky(&mut l, n).unwrap();
        let mut u = vec![0.0; n * n];
        inverse_factor_transposed(&l, n, &mut u);
        let mut w = vec![0.0; n * n];
        inverse_from_factor(&u, n, &mut w);
        // A W = I.
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..n).map(|k| a[i * n + k] * w[k * n + j]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((v - expected).abs() < 1e-10, "({i},{j}) = {v}");
            }
        }
        // Solves give W y.
        let y: Vec<f64> = (0..n).map(|i| i as f64 - 3.0).collect();
        let mut x = y.clone();
        solve_lower(&l, n, &mut x);
        solve_lower_transposed(&l, n, &mut x);
        for i in 0..n {
            let v = dot(&w[i * n..(i + 1) * n], &y);
            assert!((v - x[i]).abs() < 1e-10);
        }
    }

    #[test]
    fn cholesky_reports_indefinite_matrix() {
        let mut a = vec![1.0, 0.0, 2.0, 1.0];
        assert_eq!(cholesky(&mut a, 2), Err(1));
    }
}
