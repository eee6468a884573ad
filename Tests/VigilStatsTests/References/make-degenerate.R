#!/usr/bin/env Rscript
# Reference fits for the degenerate baselines real networks send (what R estimates, and its warnings):
#   cd Tests/VigilStatsTests/References && Rscript make-degenerate.R
script <- "make-degenerate.R"
source("reference-helpers.R")
warned <- function(expr) {
  w <- character(0)
  value <- withCallingHandlers(expr, warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") })
  list(value = value, warnings = w)
}
write_warnings <- function(w, path, what) {
  provenance(path, what)
  write(if (length(w) == 0) "(none)" else w, path, append = TRUE)
}

# Uncentred year and year squared: X'WX has condition ~1e17, X itself ~1e8; R's QR keeps both columns.
set.seed(20261130)
n <- 600
yr <- data.frame(yr = sample(2011:2024, n, TRUE), exposure = round(rlnorm(n, log(800), 0.6)) + 1)
yr$yr2 <- yr$yr^2
yr$events <- rpois(n, exp(-6.5 + 0.08 * (yr$yr - 2017) - 0.01 * (yr$yr - 2017)^2 + log(yr$exposure)))
yr <- yr[, c("events", "yr", "yr2", "exposure")]
write_data(yr, "glm-yr2-data.csv", "seeded synthetic counts over uncentred years: yr and yr^2 as covariates")
write_fit(glm(events ~ yr + yr2 + offset(log(exposure)), family = poisson, data = yr), yr,
          "glm-yr2-poisson-fit.csv", "glm(events ~ yr + yr2 + offset(log(exposure)), family = poisson)")
write_fit(glm.nb(events ~ yr + yr2 + offset(log(exposure)), data = yr), yr,
          "glm-yr2-negbin-fit.csv", "MASS::glm.nb(events ~ yr + yr2 + offset(log(exposure)))")

# A category with no events in the baseline: its coefficient runs off towards -Inf (no warning from R).
set.seed(5)
n <- 400
ce <- data.frame(unit = byte_factor(sample(c("icu", "med", "ped"), n, TRUE)), exposure = round(runif(n, 200, 1500)))
ce$events <- ifelse(ce$unit == "ped", 0L, rpois(n, ce$exposure * 0.002))
ce <- ce[, c("events", "unit", "exposure")]
write_data(ce, "glm-emptylevel-data.csv", "seeded synthetic counts: unit 'ped' has no events")
r <- warned(glm(events ~ unit + offset(log(exposure)), family = poisson, data = ce))
write_fit(r$value, ce, "glm-emptylevel-poisson-fit.csv", "glm(events ~ unit + offset(log(exposure)), family = poisson)")
write_warnings(r$warnings, "glm-emptylevel-poisson-warnings.txt", "warnings of glm(events ~ unit + offset(log(exposure)), family = poisson)")

# Poisson counts given to glm.nb: theta has no finite estimate (iteration limit, huge theta).
set.seed(8)
n <- 1000
pl <- data.frame(x = round(runif(n), 3))
pl$events <- rpois(n, exp(1 + 0.5 * pl$x))
pl <- pl[, c("events", "x")]
write_data(pl, "glm-poissonlike-data.csv", "seeded Poisson counts (no overdispersion)")
r <- warned(glm.nb(events ~ x, data = pl))
write_fit(r$value, pl, "glm-poissonlike-negbin-fit.csv", "MASS::glm.nb(events ~ x) on Poisson counts")
write_warnings(r$warnings, "glm-poissonlike-negbin-warnings.txt", "warnings of MASS::glm.nb(events ~ x) on Poisson counts")

# A covariate that separates the outcomes: fitted probabilities 0 or 1.
set.seed(9)
n <- 300
sp <- data.frame(age = round(rnorm(n, 60, 10)), risk = round(runif(n), 3))
sp$ssi <- as.integer(sp$risk > 0.8)
sp <- sp[, c("ssi", "age", "risk")]
write_data(sp, "glm-separated-data.csv", "seeded patients whose outcome is risk > 0.8 (complete separation)")
r <- warned(glm(ssi ~ age + risk, family = binomial, data = sp))
write_fit(r$value, sp, "glm-separated-binomial-fit.csv", "glm(ssi ~ age + risk, family = binomial): separated")
write_warnings(r$warnings, "glm-separated-binomial-warnings.txt", "warnings of glm(ssi ~ age + risk, family = binomial)")

# A small network's MRSA baseline: every count 0 and no offset (vigil leaves such a model unfitted).
mr <- data.frame(events = rep(0L, 48), beds = rep(c(120, 250, 400, 90), 12))
write_data(mr, "glm-allzero-data.csv", "a baseline of 48 facility-months without an event")
r <- tryCatch(warned(glm.nb(events ~ beds, data = mr)), error = function(e) list(value = NULL, warnings = paste("error:", conditionMessage(e))))
write_warnings(c(if (!is.null(r$value)) sprintf("theta = %.17g", r$value$theta), r$warnings),
               "glm-allzero-negbin-warnings.txt", "what MASS::glm.nb(events ~ beds) does on all-zero counts")
