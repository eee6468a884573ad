#!/usr/bin/env Rscript
# Generates the reference files the Swift tests compare against. R is the test oracle only: CI reads the
# committed output and never needs R. Regenerate (Debian 12):
#   apt-get install -y r-base-core r-cran-mass r-cran-surveillance r-cran-spc
#   cd Tests/VigilStatsTests/References && Rscript make-references.R
suppressPackageStartupMessages({ library(MASS); library(surveillance); library(spc) })

source("reference-helpers.R")

# ---- GLMs -------------------------------------------------------------------------------------------
quine2 <- quine
for (col in c("Eth", "Sex", "Age", "Lrn")) quine2[[col]] <- byte_factor(quine2[[col]])
write_data(quine2, "glm-quine-data.csv", "MASS::quine (Venables & Ripley): days absent from school")
write_fit(glm.nb(Days ~ Eth + Sex + Age + Lrn, data = quine2), quine2, "glm-quine-negbin-fit.csv",
          "MASS::glm.nb(Days ~ Eth + Sex + Age + Lrn, data = quine)")
write_fit(glm(Days ~ Eth + Sex + Age + Lrn, family = poisson, data = quine2), quine2,
          "glm-quine-poisson-fit.csv", "glm(Days ~ Eth + Sex + Age + Lrn, family = poisson, data = quine)")

set.seed(20261122)
n <- 3000
panel <- data.frame(
  beds = round(runif(n, 25, 900)),
  teaching = rbinom(n, 1, 0.3),
  icu_share = round(runif(n, 0, 0.35), 4),
  size = byte_factor(sample(c("small", "medium", "large"), n, replace = TRUE, prob = c(.5, .3, .2))),
  exposure = round(rlnorm(n, log(600), 0.8)) + 1)
eta <- -7.2 + 0.0006 * panel$beds + 0.25 * panel$teaching + 1.4 * panel$icu_share +
  c(large = 0.3, medium = 0.1, small = 0)[as.character(panel$size)] + log(panel$exposure)
panel$events <- rnbinom(n, size = 2.5, mu = exp(eta))
write_data(panel, "glm-panel-data.csv", "seeded synthetic facility-months: NB2 counts, theta 2.5, device-day exposure")
write_fit(glm.nb(events ~ beds + teaching + icu_share + size + offset(log(exposure)), data = panel), panel,
          "glm-panel-negbin-fit.csv", "MASS::glm.nb(events ~ beds + teaching + icu_share + size + offset(log(exposure)))")
write_fit(glm(events ~ beds + teaching + icu_share + size + offset(log(exposure)), family = poisson, data = panel),
          panel, "glm-panel-poisson-fit.csv",
          "glm(events ~ beds + teaching + icu_share + size + offset(log(exposure)), family = poisson)")

bw <- birthwt
bw$race <- byte_factor(c("white", "black", "other")[bw$race])
bw <- bw[, c("low", "age", "lwt", "race", "smoke", "ptl", "ht", "ui", "ftv")]
write_data(bw, "glm-birthwt-data.csv", "MASS::birthwt (Hosmer & Lemeshow): low birth weight")
write_fit(glm(low ~ age + lwt + race + smoke + ptl + ht + ui + ftv, family = binomial, data = bw), bw,
          "glm-birthwt-binomial-fit.csv", "glm(low ~ age + lwt + race + smoke + ptl + ht + ui + ftv, family = binomial, data = birthwt)")

set.seed(7)
n <- 4000
pat <- data.frame(age = round(rnorm(n, 65, 12)), asa = byte_factor(sample(c("I", "II", "III", "IV"), n, TRUE)),
                  female = rbinom(n, 1, 0.5), bmi = round(rnorm(n, 28, 5), 1), duration = round(rexp(n, 1/120)))
lp <- -4 + 0.02 * (pat$age - 65) + c(I = 0, II = 0.3, III = 0.8, IV = 1.3)[as.character(pat$asa)] -
  0.2 * pat$female + 0.03 * (pat$bmi - 28) + 0.004 * pat$duration
pat$ssi <- rbinom(n, 1, plogis(lp))
write_data(pat, "glm-patients-data.csv", "seeded synthetic surgical patients: SSI outcome, logistic risk")
write_fit(glm(ssi ~ age + asa + female + bmi + duration, family = binomial, data = pat), pat,
          "glm-patients-binomial-fit.csv", "glm(ssi ~ age + asa + female + bmi + duration, family = binomial)")

set.seed(11)
n <- 500
al <- data.frame(x1 = round(rnorm(n), 3), x2 = round(runif(n), 3), unit = byte_factor(sample(c("a", "b", "c"), n, TRUE)))
al$x3 <- al$x1 + al$x2
al$events <- rpois(n, exp(0.5 + 0.3 * al$x1 - 0.2 * al$x2))
al <- al[, c("events", "x1", "x2", "x3", "unit")]
write_data(al, "glm-aliased-data.csv", "seeded synthetic counts with x3 = x1 + x2 (aliased)")
write_fit(glm(events ~ x1 + x2 + x3 + unit, family = poisson, data = al), al, "glm-aliased-poisson-fit.csv",
          "glm(events ~ x1 + x2 + x3 + unit, family = poisson): x3 aliased (NA)")

# ---- Detector paths ---------------------------------------------------------------------------------
data(ha)   # hepatitis A, Berlin, weekly (surveillance)
obs <- rowSums(ha$observed)
base <- as.numeric(stats::filter(obs, rep(1, 8) / 8, sides = 1))
mu0 <- c(rep(mean(obs[1:52]), 8), base[8:(length(obs) - 1)]) * 0.9 + 0.1
rng <- seq_along(obs)
dp <- create.disProg(week = rng, observed = obs, state = rep(0, length(obs)))
pois <- algo.glrpois(dp, control = list(range = rng, c.ARL = 1e9, mu0 = mu0, theta = log(1.5), ret = "value"))
pois_reset <- algo.glrpois(dp, control = list(range = rng, c.ARL = 2.5, mu0 = mu0, theta = log(1.5), ret = "value"))
nb <- algo.glrnb(dp, control = list(range = rng, c.ARL = 1e9, mu0 = mu0, alpha = 1 / 2.5, theta = log(1.5), ret = "value"))
nb_reset <- algo.glrnb(dp, control = list(range = rng, c.ARL = 2, mu0 = mu0, alpha = 1 / 2.5, theta = log(1.5), ret = "value"))
# glr*'s value is the maximum over start points, which may be < 0; the CUSUM is max(0, ·).
write_table(data.frame(observed = obs, expected = mu0,
                       poisson = pmax(0, pois$upperbound), poisson_alarm = pois$alarm,
                       poisson_reset = pmax(0, pois_reset$upperbound), poisson_reset_alarm = pois_reset$alarm,
                       negbin = pmax(0, nb$upperbound), negbin_reset = pmax(0, nb_reset$upperbound),
                       negbin_reset_alarm = nb_reset$alarm),
            "detector-ha-glr.csv",
            "surveillance::algo.glrpois/algo.glrnb (theta = log 1.5, alpha = 1/2.5, ret = 'value') on data(ha)")

set.seed(3)
m <- 400
e <- rgamma(m, 4, 1)
o <- rnbinom(m, size = 3, mu = e * c(rep(1, 250), rep(1.8, 150)))
v <- e + e^2 / 3
z <- (o - e) / sqrt(v)
cus <- numeric(m); s <- 0
for (t in 1:m) { s <- max(0, s + z[t] - 0.5); cus[t] <- s; if (s > 4) s <- 0 }
ew <- numeric(m); lim <- numeric(m); y <- 0; tt <- 0
for (t in 1:m) {
  tt <- tt + 1; y <- 0.2 * z[t] + 0.8 * y; ew[t] <- y
  lim[t] <- 2.8 * sqrt(0.2 / 1.8 * (1 - 0.8^(2 * tt)))
  if (y > lim[t]) { y <- 0; tt <- 0 }
}
write_table(data.frame(observed = o, expected = e, variance = v, normal_cusum = cus, ewma = ew, ewma_limit = lim),
            "detector-normal-ewma.csv",
            "R loop: normal CUSUM (k 0.5, h 4, reset zero) and EWMA (lambda 0.2, L 2.8, exact limits, reset zero) on NB2 z")

set.seed(5)
m <- 3000
p <- plogis(rnorm(m, -2.5, 0.9))
yb <- rbinom(m, 1, plogis(qlogis(p) + c(rep(0, 2000), rep(log(2), 1000))))
bc <- numeric(m); s <- 0
for (i in 1:m) { s <- max(0, s + yb[i] * log(2) - log(1 - p[i] + 2 * p[i])); bc[i] <- s; if (s > 4.5) s <- 2.25 }
write_table(data.frame(outcome = yb, risk = p, bernoulli_cusum = bc), "detector-bernoulli.csv",
            "R loop: risk-adjusted Bernoulli CUSUM (Steiner 2000), R_A = 2, h 4.5, reset fir")

# ---- ARLs -------------------------------------------------------------------------------------------
cus <- expand.grid(k = c(0.5), h = c(4, 5), mu = c(0, 1), sided = c("one", "two"), stringsAsFactors = FALSE)
cus <- rbind(cus, data.frame(k = c(1, 0.25, 0.75), h = c(3, 8, 2.5), mu = c(0, 0.5, 1.5), sided = "one"))
cus$arl <- mapply(function(k, h, mu, sided) xcusum.arl(k, h, mu, sided = sided), cus$k, cus$h, cus$mu, cus$sided)
write_table(cus, "arl-normal-cusum.csv", "spc::xcusum.arl(k, h, mu, sided)")

ew <- data.frame(lambda = c(0.1, 0.2, 0.2, 0.05, 0.2, 0.3), L = c(2.814, 2.86, 2.86, 2.6, 2.86, 3),
                 mu = c(0, 0, 1, 0, 0.5, 2), sided = "two", stringsAsFactors = FALSE)
ew <- rbind(ew, data.frame(lambda = c(0.2, 0.1, 0.2), L = c(2.86, 2.5, 2.86), mu = c(0, 0, 1), sided = "one"))
# One-sided without reflection: spc's reflection border zr moved far below (zr = -8; stable from -6 to -12).
ew$arl <- mapply(function(l, L, mu, sided) if (sided == "two") xewma.arl(l, L, mu, sided = "two") else
  xewma.arl(l, L, mu, zr = -8, sided = "one", r = 200), ew$lambda, ew$L, ew$mu, ew$sided)
write_table(ew, "arl-ewma.csv", "spc::xewma.arl(lambda, L, mu, sided) (one-sided: zr = -8, r = 200, no reflection)")

pc <- data.frame(h = c(4, 5, 10, 6, 7), k = c(2.5, 3, 3, 1.2, 4.5), mean = c(2, 2.4, 2.4, 0.8, 4))
pc$arl <- mapply(function(h, k, m) arlCusum(h = h, k = k, theta = m, distr = "poisson")$ARL, pc$h, pc$k, pc$mean)
write_table(pc, "arl-poisson-cusum.csv", "surveillance::arlCusum(h, k, theta = mean, distr = 'poisson'): S = max(0, S + X - k) > h")

# Monte Carlo (independent of any Markov chain): NB2 and risk-adjusted Bernoulli CUSUM run lengths.
simulate_rl <- function(runs, draw_w, h, max_t = 1e5) {
  s <- numeric(runs); rl <- rep(NA_real_, runs); active <- seq_len(runs); t <- 0
  while (length(active) > 0 && t < max_t) {
    t <- t + 1
    s[active] <- pmax(0, s[active] + draw_w(length(active)))
    done <- active[s[active] > h]
    rl[done] <- t
    active <- setdiff(active, done)
  }
  c(mean = mean(rl), se = sd(rl) / sqrt(runs))
}
set.seed(99)
mc <- list()
for (cfg in list(c(r = 1.5, theta = 2.5, e = 3, h = 2.5, shift = 1), c(r = 1.5, theta = 2.5, e = 3, h = 2.5, shift = 1.5),
                 c(r = 2, theta = 1, e = 0.8, h = 2, shift = 1))) {
  a <- log(cfg[["r"]]); b <- log((cfg[["theta"]] + cfg[["e"]]) / (cfg[["theta"]] + cfg[["r"]] * cfg[["e"]]))
  w <- function(k) { o <- rnbinom(k, size = cfg[["theta"]], mu = cfg[["e"]] * cfg[["shift"]]); o * a + (o + cfg[["theta"]]) * b }
  r <- simulate_rl(40000, w, cfg[["h"]])
  mc[[length(mc) + 1]] <- data.frame(type = "negbin_cusum", ratio = cfg[["r"]], theta = cfg[["theta"]],
                                     expected = cfg[["e"]], h = cfg[["h"]], shift = cfg[["shift"]],
                                     arl = r[["mean"]], se = r[["se"]])
}
risks <- round(plogis(seq(-4, -1, length.out = 7)), 5)
for (cfg in list(c(ra = 2, h = 3, shift = 1), c(ra = 2, h = 3, shift = 2))) {
  w <- function(k) { p <- sample(risks, k, TRUE); q <- plogis(qlogis(p) + log(cfg[["shift"]]))
                     y <- rbinom(k, 1, q); y * log(cfg[["ra"]]) - log(1 - p + cfg[["ra"]] * p) }
  r <- simulate_rl(40000, w, cfg[["h"]])
  mc[[length(mc) + 1]] <- data.frame(type = "bernoulli_cusum", ratio = cfg[["ra"]], theta = NA,
                                     expected = NA, h = cfg[["h"]], shift = cfg[["shift"]],
                                     arl = r[["mean"]], se = r[["se"]])
}
write_table(do.call(rbind, mc), "arl-montecarlo.csv",
            sprintf("R Monte Carlo, 40000 runs each, set.seed(99); bernoulli risks uniform over {%s}",
                    paste(risks, collapse = " ")))

# ---- SIR intervals ----------------------------------------------------------------------------------
sir <- data.frame(observed = c(0, 1, 2, 5, 7, 12, 40, 150), expected = c(1.3, 2.41, 0.8, 3.3, 2.41, 9.7, 31.2, 160.4))
midp <- function(o, lo) {
  f <- if (lo) function(l) ppois(o, l, lower.tail = FALSE) + 0.5 * dpois(o, l) - 0.025
       else function(l) ppois(o - 1, l) + 0.5 * dpois(o, l) - 0.025
  uniroot(f, c(1e-10, 10 * o + 20), tol = 1e-14)$root
}
sir$midp_lower <- mapply(function(o, e) if (o == 0) 0 else midp(o, TRUE) / e, sir$observed, sir$expected)
sir$midp_upper <- mapply(function(o, e) midp(o, FALSE) / e, sir$observed, sir$expected)
sir$exact_lower <- ifelse(sir$observed == 0, 0, qchisq(0.025, 2 * sir$observed) / (2 * sir$expected))
sir$exact_upper <- qchisq(0.975, 2 * sir$observed + 2) / (2 * sir$expected)
write_table(sir, "sir-intervals.csv", "uniroot(tol = 1e-14) on ppois/dpois for mid-P; qchisq for Garwood")

# ---- summary() text, for the layout of `vigil fit --format table` ----------------------------------
write_summary <- function(fit, path) writeLines(capture.output(print(summary(fit))), path)
write_summary(glm.nb(Days ~ Eth + Sex + Age + Lrn, data = quine2), "summary-quine-negbin.txt")
write_summary(glm.nb(events ~ beds + teaching + icu_share + size + offset(log(exposure)), data = panel),
              "summary-panel-negbin.txt")
write_summary(glm(low ~ age + lwt + race + smoke + ptl + ht + ui + ftv, family = binomial, data = bw),
              "summary-birthwt-binomial.txt")
write_summary(glm(events ~ x1 + x2 + x3 + unit, family = poisson, data = al), "summary-aliased-poisson.txt")
