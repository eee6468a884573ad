#!/usr/bin/env Rscript
# A null panel for the per-series thresholds and the false-alarm budget: NB2 monthly counts with no
# change, 1200 facilities whose expected counts run from 0.15 to 10 a month, 2 baseline years and 5
# monitored years. The test counts the signals of the model fitted on it.
#   cd Tests/VigilStatsTests/References && Rscript make-null-panel.R
script <- "make-null-panel.R"
source("reference-helpers.R")
set.seed(20261202)
n <- 1200
levels <- exp(seq(log(0.15), log(10), length.out = 12))     # E a month, 12 sizes of facility
e <- rep(levels, each = n / 12)
rate <- 0.002
exposure <- round(e / rate)
months <- c(sprintf("%d-%02d", rep(2019:2025, each = 12), rep(1:12, 7)))
panel <- data.frame(facility_id = rep(sprintf("F%03d", 1:n), each = length(months)),
                    measure = "CLABSI", period = rep(months, n), exposure = rep(exposure, each = length(months)))
panel$events <- rnbinom(nrow(panel), size = 3, mu = rate * panel$exposure)
write_data(panel[, c("facility_id", "measure", "period", "events", "exposure")], "null-panel.csv",
           "seeded NB2 counts without change (theta 3), 1200 facilities, E 0.15-10 a month, 2019-2025")
