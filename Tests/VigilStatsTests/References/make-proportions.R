#!/usr/bin/env Rscript
# Proportions: events out of trials. Grouped logistic regression (glm cbind), beta-binomial regression
# (VGAM::vglm betabinomial, its defaults: logit mu, logit rho, rho intercept-only), and the binomial CUSUM
# (METHODS.md "Proportions") as a plain R recursion:
#   cd Tests/VigilStatsTests/References && Rscript make-proportions.R
script <- "make-proportions.R"
source("reference-helpers.R")
suppressPackageStartupMessages(library(VGAM))

# Nursing homes by month: residents assessed (trials), falls with major injury (events), size and the
# share of short-stay residents as covariates; a beta-distributed home effect makes them overdispersed.
set.seed(20261201)
homes <- sprintf("N%03d", 1:60)
size <- setNames(sample(c("small", "medium", "large"), 60, TRUE, prob = c(0.4, 0.4, 0.2)), homes)
short_stay <- setNames(round(runif(60, 0.05, 0.6), 3), homes)
months <- 1:24
nh <- merge(data.frame(facility_id = homes), data.frame(month = months))
nh$size <- size[nh$facility_id]
nh$short_stay <- short_stay[nh$facility_id]
base <- c(small = 40, medium = 90, large = 160)
nh$residents <- rpois(nrow(nh), base[nh$size]) + 5
eta <- -3.4 + 0.25 * (nh$size == "large") - 0.1 * (nh$size == "small") + 1.2 * nh$short_stay
mu <- plogis(eta)
rho <- 0.02
p <- rbeta(nrow(nh), mu * (1 - rho) / rho, (1 - mu) * (1 - rho) / rho)
nh$falls <- rbinom(nrow(nh), nh$residents, p)
nh$size <- byte_factor(nh$size)
data <- nh[, c("facility_id", "month", "falls", "residents", "size", "short_stay")]
write_data(data, "proportions-data.csv", "seeded synthetic nursing-home months: falls out of residents, beta-binomial (rho 0.02)")

write_fit(glm(cbind(falls, residents - falls) ~ size + short_stay, family = binomial, data = data), data,
          "proportions-binomial-fit.csv", "glm(cbind(falls, residents - falls) ~ size + short_stay, family = binomial)")

bb <- vglm(cbind(falls, residents - falls) ~ size + short_stay, betabinomial, data = data,
           control = vglm.control(epsilon = 1e-12, maxit = 100))
est <- coef(bb)
se <- sqrt(diag(vcov(bb)))
nm <- names(est)
nm[nm == "(Intercept):1"] <- "intercept"
nm[nm == "(Intercept):2"] <- "logit_rho"
for (col in c("size")) {
  hit <- startsWith(nm, col)
  nm[hit] <- sprintf("%s[%s]", col, substring(nm[hit], nchar(col) + 1))
}
rows <- data.frame(kind = c(rep("estimate", length(est)), rep("std_error", length(est))),
                   name = c(nm, nm), value = c(unname(est), unname(se)))
rows <- rbind(rows, data.frame(kind = "scalar", name = c("log_likelihood", "aic", "rho"),
                               value = c(as.numeric(logLik(bb)), AIC(bb), plogis(est[["(Intercept):2"]]))))
write_table(rows, "proportions-betabinomial-fit.csv",
            sprintf("VGAM %s: vglm(cbind(falls, residents - falls) ~ size + short_stay, betabinomial, control = vglm.control(epsilon = 1e-12))",
                    packageVersion("VGAM")))

# Binomial CUSUM for odds ratio 2 on one home's months, p from the binomial fit, h = 3, reset to 0.
fit <- glm(cbind(falls, residents - falls) ~ size + short_stay, family = binomial, data = data)
one <- data[data$facility_id == "N007", ]
one$p <- predict(fit, newdata = one, type = "response")
one$falls[13:24] <- rbinom(12, one$residents[13:24], plogis(qlogis(one$p[13:24]) + log(2.5)))
R <- 2; h <- 3; S <- 0
out <- data.frame()
for (t in seq_len(nrow(one))) {
  W <- one$falls[t] * log(R) - one$residents[t] * log(1 - one$p[t] + R * one$p[t])
  S <- max(0, S + W)
  alarm <- S > h
  out <- rbind(out, data.frame(events = one$falls[t], trials = one$residents[t], risk = one$p[t], weight = W,
                               statistic = S, signal = as.integer(alarm)))
  if (alarm) S <- 0
}
write_table(out, "detector-binomial-cusum.csv",
            "binomial CUSUM, odds ratio 2, h = 3, reset 0: W = y log R - n log(1 - p + R p), S = max(0, S + W), plain R loop")

# Run lengths of the binomial CUSUM by seeded Monte Carlo (20,000 runs each, from 0): events binomial or
# beta-binomial (rho) out of n at risk p, odds shifted by `shift`; the reference for its lattice ARL.
simulate <- function(n, p, rho, R, h, shift, runs = 20000) {
  odds <- p / (1 - p) * shift
  q <- odds / (1 + odds)
  S <- numeric(runs); len <- integer(runs); alive <- rep(TRUE, runs); t <- 0L
  while (any(alive)) {
    t <- t + 1L
    k <- sum(alive)
    pk <- if (rho > 0) rbeta(k, q * (1 - rho) / rho, (1 - q) * (1 - rho) / rho) else rep(q, k)
    y <- rbinom(k, n, pk)
    S[alive] <- pmax(0, S[alive] + y * log(R) - n * log(1 - p + R * p))
    done <- alive
    done[alive] <- S[alive] > h
    len[done] <- t
    alive <- alive & !done
  }
  c(arl = mean(len), se = sd(len) / sqrt(runs), runs = runs)
}
set.seed(20261201)
cases <- data.frame(trials = c(80, 80, 80, 80, 20, 300), p = c(0.05, 0.05, 0.05, 0.05, 0.2, 0.01),
                    rho = c(0, 0, 0.02, 0.02, 0.05, 0), odds_ratio = 2, h = c(3.1, 3.1, 8.15, 8.15, 5, 4),
                    shift = c(1, 2, 1, 2, 1, 1))
mc <- t(mapply(simulate, cases$trials, cases$p, cases$rho, cases$odds_ratio, cases$h, cases$shift))
write_table(cbind(cases, mc), "arl-binomial-montecarlo.csv",
            "R Monte Carlo of the binomial CUSUM, 20000 runs each from 0, set.seed(20261201): y ~ binomial(n, q) or beta-binomial (rho), q with odds shift x p's")
