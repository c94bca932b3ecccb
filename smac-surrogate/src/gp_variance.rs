//! The variance kernel of GP prediction: `‖L⁻¹ k_p‖²` for a block of query points, register
//! blocked over rows and points (the acquisition search spends most of its time here).

use crate::gp::{BLOCK, MIN_LANES};
use crate::linalg::packed_row;

/// `sq[p] = ‖L⁻¹ k_p‖²` for the first `width` points (a multiple of [`MIN_LANES`]) of a block
/// whose cross-covariances are stored transposed in `kt` (`kt[k · BLOCK + p]`), with `L⁻¹`
/// packed: chunks of `L` points, then of 16 and 8 for the rest.
#[inline(always)]
pub(crate) fn block_sq<const L: usize, const R: usize, const RN: usize>(
    l_inv: &[f64],
    n: usize,
    kt: &[f64],
    width: usize,
    sq: &mut [f64],
) {
    sq[..width].fill(0.0);
    let mut lane = 0;
    while lane < width {
        let rest = width - lane;
        lane += if rest >= L {
            chunk_sq::<L, R>(l_inv, n, kt, lane, sq)
        } else if rest >= 16 && L > 16 {
            chunk_sq::<16, R>(l_inv, n, kt, lane, sq)
        } else {
            // Narrow chunk: more rows at a time keep as many independent accumulators busy.
            chunk_sq::<MIN_LANES, RN>(l_inv, n, kt, lane, sq)
        };
    }
}

/// Adds `‖L⁻¹ k_p‖²` into `sq[p]` for the `L` points `lane..lane + L`; returns `L`.
///
/// `R` rows of `L⁻¹` at a time: `R × L` accumulators stay in registers and each load of `kt`
/// serves `R` rows, which divides the traffic over `kt` (the bottleneck at large n) by `R`.
/// Each accumulator still sums over `k` in ascending order and `sq` over the rows in ascending
/// order, so the result does not depend on `L` or `R`.
#[inline(always)]
fn chunk_sq<const L: usize, const R: usize>(
    l_inv: &[f64],
    n: usize,
    kt: &[f64],
    lane: usize,
    sq: &mut [f64],
) -> usize {
    let mut i0 = 0;
    while i0 + R <= n {
        let mut acc = [[0.0; L]; R];
        // The first i0 + 1 entries of rows i0..i0 + R: the columns they share.
        let heads: [&[f64]; R] =
            std::array::from_fn(|j| &l_inv[packed_row(i0 + j)..packed_row(i0 + j) + i0 + 1]);
        assert!(kt.len() >= n * BLOCK && lane + L <= BLOCK);
        for k in 0..=i0 {
            // SAFETY: k ≤ i0 < n and lane + L ≤ BLOCK, so the range lies inside `kt` (asserted
            // above); every head has i0 + 1 > k entries. (Checked indexing kept bounds checks
            // and a spilled register in the hottest loop of the GP.)
            let col = unsafe { kt.get_unchecked(k * BLOCK + lane..k * BLOCK + lane + L) };
            for j in 0..R {
                let l = unsafe { *heads[j].get_unchecked(k) };
                for q in 0..L {
                    acc[j][q] += l * col[q];
                }
            }
        }
        // The rest of each row (the triangle beyond the shared columns), still in order.
        for (j, a) in acc.iter_mut().enumerate().skip(1) {
            let i = i0 + j;
            for k in i0 + 1..=i {
                let l = l_inv[packed_row(i) + k];
                let col = &kt[k * BLOCK + lane..k * BLOCK + lane + L];
                for q in 0..L {
                    a[q] += l * col[q];
                }
            }
        }
        for a in &acc {
            for q in 0..L {
                sq[lane + q] += a[q] * a[q];
            }
        }
        i0 += R;
    }
    for i in i0..n {
        let li = &l_inv[packed_row(i)..packed_row(i) + i + 1];
        let mut acc = [0.0; L];
        for (k, &l) in li.iter().enumerate() {
            let col = &kt[k * BLOCK + lane..k * BLOCK + lane + L];
            for q in 0..L {
                acc[q] += l * col[q];
            }
        }
        for q in 0..L {
            sq[lane + q] += acc[q] * acc[q];
        }
    }
    L
}
