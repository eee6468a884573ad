#!/usr/bin/env Rscript
# Serfling (seasonal) expectations: u = yday of the period's first day / 365.25 (as.POSIXlt()$yday),
# harmonics sin(2πku), cos(2πku) — the reference for expected.seasonal and `vigil fit --seasonal`:
#   cd Tests/VigilStatsTests/References && Rscript make-seasonal.R
script <- "make-seasonal.R"
source("reference-helpers.R")

iso_monday <- function(year, week) {
  jan4 <- as.Date(sprintf("%d-01-04", year))
  jan4 - ((as.POSIXlt(jan4)$wday + 6) %% 7) + 7 * (week - 1)
}
u_of <- function(first_day) as.POSIXlt(first_day)$yday / 365.25

# Weekly admissions of 30 hospitals, 2023-W01 … 2024-W20, with a winter peak; NB2, beds as exposure.
set.seed(20261201)
hospitals <- sprintf("H%02d", 1:30)
beds <- setNames(round(runif(30, 60, 600)), hospitals)
teaching <- setNames(rbinom(30, 1, 0.3), hospitals)
weeks <- rbind(data.frame(year = 2023, week = 1:52), data.frame(year = 2024, week = 1:20))
ad <- merge(data.frame(facility_id = hospitals), weeks)
ad <- ad[order(ad$facility_id, ad$year, ad$week), ]
ad$period <- sprintf("%d-W%02d", ad$year, ad$week)
ad$monday <- iso_monday(ad$year, ad$week)
ad$u <- u_of(ad$monday)
ad$exposure <- beds[ad$facility_id]
ad$teaching <- teaching[ad$facility_id]
mu <- exp(-1.6 + 0.15 * ad$teaching + 0.35 * cos(2 * pi * ad$u) + 0.1 * sin(2 * pi * ad$u) + log(ad$exposure))
ad$events <- rnbinom(nrow(ad), size = 12, mu = mu)
ad$measure <- "ADMISSIONS"
feed <- ad[, c("facility_id", "measure", "period", "events", "exposure", "teaching")]
write_data(feed, "seasonal-weekly-data.csv", "seeded weekly admissions with a winter peak (NB2, theta 12), 30 hospitals, 2023-W01 to 2024-W20")
base <- ad[ad$year == 2023, ]
fit <- glm.nb(events ~ teaching + sin(2 * pi * u) + cos(2 * pi * u) + offset(log(exposure)), data = base)
names(fit$coefficients) <- c("(Intercept)", "teaching", "sin1", "cos1")
write_fit(fit, base, "seasonal-weekly-negbin-fit.csv",
          "MASS::glm.nb(events ~ teaching + sin(2*pi*u) + cos(2*pi*u) + offset(log(exposure))) on 2023's weeks")
mon <- ad[ad$year == 2024, ]
mon$expected <- predict(fit, newdata = mon, type = "response")
write_table(mon[, c("facility_id", "period", "expected")], "seasonal-weekly-expected.csv",
            "predict(fit, newdata = 2024's weeks, type = 'response'): E of the monitored weeks")

# Monthly counts with two harmonics, Poisson (vigil fit --seasonal 2 --period-column period).
set.seed(77)
months <- expand.grid(month = 1:12, year = 2021:2023)
mo <- data.frame(period = sprintf("%d-%02d", months$year, months$month),
                 first = as.Date(sprintf("%d-%02d-01", months$year, months$month)))
mo <- mo[rep(seq_len(nrow(mo)), 8), ]
mo$u <- u_of(mo$first)
mo$exposure <- round(runif(nrow(mo), 500, 3000))
mo$events <- rpois(nrow(mo), exp(-5.5 + 0.3 * cos(2 * pi * mo$u) - 0.2 * sin(4 * pi * mo$u) + log(mo$exposure)))
write_data(mo[, c("events", "period", "exposure")], "seasonal-monthly-data.csv", "seeded monthly counts with two harmonics (Poisson)")
fit2 <- glm(events ~ sin(2 * pi * u) + cos(2 * pi * u) + sin(4 * pi * u) + cos(4 * pi * u) + offset(log(exposure)),
            family = poisson, data = mo)
names(fit2$coefficients) <- c("(Intercept)", "sin1", "cos1", "sin2", "cos2")
write_fit(fit2, mo, "seasonal-monthly-poisson-fit.csv",
          "glm(events ~ sin(2*pi*u) + cos(2*pi*u) + sin(4*pi*u) + cos(4*pi*u) + offset(log(exposure)), family = poisson)")
