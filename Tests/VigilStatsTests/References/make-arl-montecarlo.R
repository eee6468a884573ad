#!/usr/bin/env Rscript
# Seeded Monte Carlo of the detectors themselves, on the data they see (counts, outcomes), run to the
# first signal from the zero state: the reference for `vigil arl` and every arl0: calibration.
#   cd Tests/VigilStatsTests/References && Rscript make-arl-montecarlo.R
script <- "make-arl-montecarlo.R"
source("reference-helpers.R")

runs <- 40000
draw_counts <- function(n, mean, theta) if (is.infinite(theta)) rpois(n, mean) else rnbinom(n, size = theta, mu = mean)

# Run lengths of `n` independent charts: `step(state, alive, t)` updates the state of the live runs and
# returns which of them signal.
run_lengths <- function(n, init, step) {
  state <- init(n)
  alive <- rep(TRUE, n)
  N <- rep(NA_real_, n)
  t <- 0
  while (any(alive)) {
    t <- t + 1
    idx <- which(alive)
    out <- step(state, idx, t)
    state <- out$state
    hit <- idx[out$signal]
    N[hit] <- t
    alive[hit] <- FALSE
  }
  N
}

# normal_cusum on z = (O - E)/sqrt(V) of counts O with mean `ratio` * E (V, E the in-control ones).
normal_cusum <- function(E, theta, k, h, ratio = 1, direction = 1) {
  sd <- sqrt(E + if (is.infinite(theta)) 0 else E^2 / theta)
  run_lengths(runs, function(n) numeric(n), function(S, idx, t) {
    z <- direction * (draw_counts(length(idx), ratio * E, theta) - E) / sd
    S[idx] <- pmax(0, S[idx] + z - k)
    list(state = S, signal = S[idx] > h)
  })
}

# ewma with the exact limits on z of counts (theta = NA: z ~ N(shift, 1)).
ewma <- function(E, theta, lambda, L, ratio = 1, shift = 0) {
  sd <- if (is.na(theta)) 1 else sqrt(E + if (is.infinite(theta)) 0 else E^2 / theta)
  run_lengths(runs, function(n) numeric(n), function(Y, idx, t) {
    z <- if (is.na(theta)) rnorm(length(idx), shift) else (draw_counts(length(idx), ratio * E, theta) - E) / sd
    Y[idx] <- lambda * z + (1 - lambda) * Y[idx]
    list(state = Y, signal = Y[idx] > L * sqrt(lambda / (2 - lambda) * (1 - (1 - lambda)^(2 * t))))
  })
}

# poisson_cusum / negbin_cusum (theta = Inf: Poisson) with counts of mean shift * E.
count_cusum <- function(E, theta, r, h, shift = 1, start = 0) {
  run_lengths(runs, function(n) rep(start, n), function(S, idx, t) {
    O <- draw_counts(length(idx), shift * E, theta)
    W <- if (is.infinite(theta)) O * log(r) - (r - 1) * E else O * log(r) + (O + theta) * log((theta + E) / (theta + r * E))
    S[idx] <- pmax(0, S[idx] + W)
    list(state = S, signal = S[idx] > h)
  })
}

# bernoulli_cusum over patients of risk p (true odds multiplied by `odds`).
bernoulli_cusum <- function(p, RA, h, odds = 1) {
  q <- p * odds / (1 - p + p * odds)
  run_lengths(runs, function(n) numeric(n), function(S, idx, t) {
    y <- rbinom(length(idx), 1, q)
    S[idx] <- pmax(0, S[idx] + y * log(RA) - log(1 - p + RA * p))
    list(state = S, signal = S[idx] > h)
  })
}

cases <- list(
  list("normal_cusum", quote(normal_cusum(0.1, Inf, 0.5, 4)), E = 0.1, theta = Inf, k = 0.5, h = 4, lambda = NA, L = NA, ratio = 1, shift = 0, direction = "up", p = NA),
  list("normal_cusum", quote(normal_cusum(0.5, Inf, 0.5, 4)), E = 0.5, theta = Inf, k = 0.5, h = 4, lambda = NA, L = NA, ratio = 1, shift = 0, direction = "up", p = NA),
  list("normal_cusum", quote(normal_cusum(2, Inf, 0.5, 4)), E = 2, theta = Inf, k = 0.5, h = 4, lambda = NA, L = NA, ratio = 1, shift = 0, direction = "up", p = NA),
  list("normal_cusum", quote(normal_cusum(10, Inf, 0.5, 4)), E = 10, theta = Inf, k = 0.5, h = 4, lambda = NA, L = NA, ratio = 1, shift = 0, direction = "up", p = NA),
  list("normal_cusum", quote(normal_cusum(2, Inf, 0.5, 4, ratio = 2)), E = 2, theta = Inf, k = 0.5, h = 4, lambda = NA, L = NA, ratio = 2, shift = 0, direction = "up", p = NA),
  list("normal_cusum", quote(normal_cusum(3, 2.5, 0.5, 4)), E = 3, theta = 2.5, k = 0.5, h = 4, lambda = NA, L = NA, ratio = 1, shift = 0, direction = "up", p = NA),
  list("normal_cusum", quote(normal_cusum(5, 2.5, 0.25, 3, direction = -1)), E = 5, theta = 2.5, k = 0.25, h = 3, lambda = NA, L = NA, ratio = 1, shift = 0, direction = "down", p = NA),
  list("ewma", quote(ewma(0.25, 3.48, 0.2, 3.5)), E = 0.25, theta = 3.48, k = NA, h = NA, lambda = 0.2, L = 3.5, ratio = 1, shift = 0, direction = "up", p = NA),
  list("ewma", quote(ewma(1, 3.48, 0.2, 3.5)), E = 1, theta = 3.48, k = NA, h = NA, lambda = 0.2, L = 3.5, ratio = 1, shift = 0, direction = "up", p = NA),
  list("ewma", quote(ewma(4, 3.48, 0.2, 3.5)), E = 4, theta = 3.48, k = NA, h = NA, lambda = 0.2, L = 3.5, ratio = 1, shift = 0, direction = "up", p = NA),
  list("ewma", quote(ewma(1, 3.48, 0.2, 3.5, ratio = 2)), E = 1, theta = 3.48, k = NA, h = NA, lambda = 0.2, L = 3.5, ratio = 2, shift = 0, direction = "up", p = NA),
  list("ewma", quote(ewma(2, Inf, 0.3, 2.5)), E = 2, theta = Inf, k = NA, h = NA, lambda = 0.3, L = 2.5, ratio = 1, shift = 0, direction = "up", p = NA),
  list("ewma", quote(ewma(NA, NA, 0.2, 2.86)), E = NA, theta = NA, k = NA, h = NA, lambda = 0.2, L = 2.86, ratio = 1, shift = 0, direction = "up", p = NA),
  list("ewma", quote(ewma(NA, NA, 0.2, 2.86, shift = 1)), E = NA, theta = NA, k = NA, h = NA, lambda = 0.2, L = 2.86, ratio = 1, shift = 1, direction = "up", p = NA),
  list("bernoulli_cusum", quote(bernoulli_cusum(0.05, 1.5, 2)), E = NA, theta = NA, k = NA, h = 2, lambda = NA, L = NA, ratio = 1.5, shift = 1, direction = "up", p = 0.05),
  list("bernoulli_cusum", quote(bernoulli_cusum(0.05, 1.5, 2, odds = 1.5)), E = NA, theta = NA, k = NA, h = 2, lambda = NA, L = NA, ratio = 1.5, shift = 1.5, direction = "up", p = 0.05),
  list("bernoulli_cusum", quote(bernoulli_cusum(0.2, 2, 3)), E = NA, theta = NA, k = NA, h = 3, lambda = NA, L = NA, ratio = 2, shift = 1, direction = "up", p = 0.2),
  list("negbin_cusum", quote(count_cusum(2, 2.5, 2, 3.0996)), E = 2, theta = 2.5, k = NA, h = 3.0996, lambda = NA, L = NA, ratio = 2, shift = 1, direction = "up", p = NA),
  list("poisson_cusum", quote(count_cusum(2, Inf, 1.5, 3)), E = 2, theta = Inf, k = NA, h = 3, lambda = NA, L = NA, ratio = 1.5, shift = 1, direction = "up", p = NA)
)
# Thresholds vigil solved (mid-step on the lattice), checked at the h it uses:
#   vigil arl --type negbin_cusum --ratio 2 --theta 2.5 --expected 2 --arl0 200            -> h 3.1037161441452668
#   vigil arl --type poisson_cusum --ratio 1.5 --expected 0.7 --arl0 300                   -> h 2.7553197119168447
#   vigil arl --type bernoulli_cusum --odds_ratio 1.5 --expected 0.05 --arl0 1000          -> h 1.8633766055231729
#   vigil arl --type normal_cusum --k 0.5 --expected 0.5 --arl0 400                        -> h 5.5361287014849205
#   vigil arl --type ewma --lambda 0.2 --expected 1 --theta 3.48 --arl0 400               -> L 3.258962631225586
#   vigil arl --type negbin_cusum --ratio 1.5 --theta 2.5 --expected 4 --arl0 120 --reset fir -> h 2.370530488371881
solved <- list(
  list("negbin_cusum", quote(count_cusum(2, 2.5, 2, 3.1037161441452668)), E = 2, theta = 2.5, k = NA, h = 3.1037161441452668, lambda = NA, L = NA, ratio = 2, shift = 1, direction = "up", p = NA),
  list("poisson_cusum", quote(count_cusum(0.7, Inf, 1.5, 2.7553197119168447)), E = 0.7, theta = Inf, k = NA, h = 2.7553197119168447, lambda = NA, L = NA, ratio = 1.5, shift = 1, direction = "up", p = NA),
  list("bernoulli_cusum", quote(bernoulli_cusum(0.05, 1.5, 1.8633766055231729)), E = NA, theta = NA, k = NA, h = 1.8633766055231729, lambda = NA, L = NA, ratio = 1.5, shift = 1, direction = "up", p = 0.05),
  list("normal_cusum", quote(normal_cusum(0.5, Inf, 0.5, 5.5361287014849205)), E = 0.5, theta = Inf, k = 0.5, h = 5.5361287014849205, lambda = NA, L = NA, ratio = 1, shift = 0, direction = "up", p = NA),
  list("ewma", quote(ewma(1, 3.48, 0.2, 3.258962631225586)), E = 1, theta = 3.48, k = NA, h = NA, lambda = 0.2, L = 3.258962631225586, ratio = 1, shift = 0, direction = "up", p = NA),
  list("negbin_cusum_fir", quote(count_cusum(4, 2.5, 1.5, 2.370530488371881, start = 2.370530488371881 / 2)), E = 4, theta = 2.5, k = NA, h = 2.370530488371881, lambda = NA, L = NA, ratio = 1.5, shift = 1, direction = "up", p = NA)
)
set.seed(20261130)
rows <- lapply(c(cases, solved), function(c) {
  N <- eval(c[[2]])
  data.frame(type = c[[1]], expected = c$E, theta = c$theta, k = c$k, h = c$h, lambda = c$lambda, L = c$L,
             ratio = c$ratio, shift = c$shift, direction = c$direction, p = c$p,
             arl = mean(N), se = sd(N) / sqrt(length(N)), runs = length(N))
})
write_table(do.call(rbind, rows), "arl-on-data-montecarlo.csv",
            sprintf("R Monte Carlo of the detectors on the data they see, %d runs each from the zero state, set.seed(20261130); theta Inf = Poisson, NA = N(shift, 1); ratio = true mean / E (bernoulli: R_A, shift = true odds multiplier)", runs))
