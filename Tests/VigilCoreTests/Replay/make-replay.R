# Expected results of the end-to-end replay test, computed independently of vigil: plain R loops over the
# series, MASS::glm.nb and glm for the baseline fits, digest for the alert ids.
#   Rscript make-replay.R        (from this directory; writes inputs/ and expected/)
# R 4.2.2, MASS 7.3-58.2, digest (Debian 12 packages r-base-core, r-cran-mass, r-cran-digest).
suppressMessages({ library(MASS); library(digest) })
set.seed(20261122)
dir.create("inputs", showWarnings = FALSE); dir.create("expected", showWarnings = FALSE)
num <- function(x) sprintf("%.17g", x)
byteSort <- function(x) sort(unique(x), method = "radix")

## Aggregate data: 40 hospitals x 36 months of NB2 CLABSI counts; three hospitals worsen from 2024-07.
months <- sprintf("%d-%02d", rep(2022:2024, each = 12), rep(1:12, 3))
nf <- 40
fac <- sprintf("H%03d", 1:nf)
bedsize <- sample(c("small", "medium", "large"), nf, replace = TRUE)
icu <- round(runif(nf, 0.05, 0.4), 3)
g <- expand.grid(m = 1:36, f = 1:nf)
exposure <- round(runif(nrow(g), 300, 1500))
eta <- -7 + 0.3 * (bedsize[g$f] == "medium") + 0.6 * (bedsize[g$f] == "large") + 1.5 * icu[g$f]
shift <- ifelse(g$f %in% c(5, 12, 23) & g$m >= 31, 2.5, 1)
events <- rnbinom(nrow(g), size = 3, mu = exp(eta) * exposure * shift)
agg <- data.frame(facility_id = fac[g$f], measure = "CLABSI", period = months[g$m], events = events,
                  exposure = exposure, bedsize = bedsize[g$f], icu_share = icu[g$f], stringsAsFactors = FALSE)

## Patient data: 10 hospitals x 250 colon surgeries over 2023-2024 (dates, so equal times occur).
npf <- 250
pf <- sprintf("P%02d", 1:10)
pg <- data.frame(f = rep(1:10, each = npf))
day <- as.Date("2023-01-01") + sample(0:730, nrow(pg), replace = TRUE)
age <- round(rnorm(nrow(pg), 65, 10))
asa <- sample(c("I", "II", "III"), nrow(pg), replace = TRUE, prob = c(0.3, 0.5, 0.2))
lp <- -3 + 0.03 * (age - 65) + 0.4 * (asa == "II") + 0.9 * (asa == "III") + ifelse(pg$f == 3 & day >= as.Date("2024-06-01"), log(3), 0)
outcome <- rbinom(nrow(pg), 1, plogis(lp))
pat <- data.frame(facility_id = pf[pg$f], measure = "SSI_COLO", time = format(day), outcome = outcome,
                  episode_id = sprintf("E%05d", seq_len(nrow(pg))), age = age, asa = asa, stringsAsFactors = FALSE)

## File 1: everything shuffled (out of order), but for one month of H007, which arrives late in file 2.
late <- which(agg$facility_id == "H007" & agg$period == "2024-08")
file1 <- agg[-late, ][sample(nrow(agg) - 1), ]
pat1 <- pat[sample(nrow(pat)), ]
pat1$arrival <- seq_len(nrow(pat1))

## The engine, as SPEC §2-§3 and METHODS.md describe it.
midp <- function(o, e) {
  lo <- if (o == 0) 0 else uniroot(function(l) ppois(o, l, lower.tail = FALSE) + 0.5 * dpois(o, l) - 0.025, c(1e-10, 10 * o + 10), tol = 1e-14)$root
  hi <- uniroot(function(l) ppois(o - 1, l) + 0.5 * dpois(o, l) - 0.025, c(1e-10, 10 * o + 20), tol = 1e-14)$root
  c(lo, hi) / e
}
alertId <- function(model, det, f, measure, period)
  substr(digest(paste(model, det, f, measure, period, sep = "\x1f"), algo = "sha256", serialize = FALSE), 1, 32)

# One detector over one series: o, e, v, position (period ordinal / patient number), labels.
runDetector <- function(type, par, o, e, v, pos, cooldown) {
  n <- length(o); stat <- numeric(n); thr <- numeric(n); sig <- logical(n); start <- integer(n)
  s <- 0; last0 <- 0; t <- 0
  for (i in seq_len(n)) {
    if (type == "ewma") {
      z <- (o[i] - e[i]) / sqrt(v[i]); t <- t + 1
      s <- par$lambda * z + (1 - par$lambda) * s
      thr[i] <- par$L * sqrt(par$lambda / (2 - par$lambda) * (1 - (1 - par$lambda)^(2 * t)))
    } else {
      w <- switch(type,
        negbin = o[i] * log(par$r) + (o[i] + par$theta) * log((par$theta + e[i]) / (par$theta + par$r * e[i])),
        poisson = o[i] * log(par$r) - (par$r - 1) * e[i],
        bernoulli = o[i] * log(par$r) - log(1 - e[i] + par$r * e[i]))
      s <- max(0, s + w); thr[i] <- par$h
      if (s == 0) last0 <- i
    }
    stat[i] <- s; sig[i] <- s > thr[i]; start[i] <- min(last0 + 1, i)
    if (sig[i]) {
      if (type == "ewma") { s <- 0; t <- 0; last0 <- i }
      else if (par$reset == "zero") { s <- 0; last0 <- i }
      else if (par$reset == "fir") { s <- par$h / 2; last0 <- i }
    }
  }
  raised <- logical(n); lastAlert <- NA
  for (i in which(sig)) if (is.na(lastAlert) || pos[i] - lastAlert > cooldown) { raised[i] <- TRUE; lastAlert <- pos[i] }
  list(stat = stat, thr = thr, sig = sig, start = start, raised = raised)
}

evaluateState <- function(agg, pat) {
  trace <- list(); alerts <- list()
  # clabsi-nb: NB2 on the 2022-2023 baseline, monitored from 2024-01.
  base <- agg[agg$period <= "2023-12", ]
  lev <- byteSort(base$bedsize)
  base$bedsize <- factor(base$bedsize, levels = lev)
  fit <- glm.nb(events ~ bedsize + icu_share + offset(log(exposure)), data = base, control = glm.control(epsilon = 1e-8, maxit = 25))
  mon <- agg[agg$period > "2023-12", ]
  mon$bedsize <- factor(mon$bedsize, levels = lev)
  mon$e <- predict(fit, newdata = mon, type = "response")
  theta <- fit$theta
  dets <- list(list(id = "nb", type = "negbin", par = list(r = 2, theta = theta, h = 3, reset = "zero")),
               list(id = "pois", type = "poisson", par = list(r = 1.5, h = 4, reset = "fir")),
               list(id = "ewma", type = "ewma", par = list(lambda = 0.3, L = 2.5)))
  for (f in byteSort(mon$facility_id)) {
    s <- mon[mon$facility_id == f, ]; s <- s[order(s$period), ]
    pos <- as.integer(substr(s$period, 1, 4)) * 12 + as.integer(substr(s$period, 6, 7)) - 1
    v <- s$e + s$e^2 / theta
    for (d in dets) {
      r <- runDetector(d$type, d$par, s$events, s$e, v, pos, cooldown = 2)
      trace[[length(trace) + 1]] <- data.frame(model = "clabsi-nb", detector = d$id, facility_id = f, measure = "CLABSI",
        period = s$period, observed = s$events, expected = num(s$e), statistic = num(r$stat), threshold = num(r$thr),
        signal = as.integer(r$sig))
      for (i in which(r$raised)) {
        ci <- midp(s$events[i], s$e[i])
        alerts[[length(alerts) + 1]] <- data.frame(id = alertId("clabsi-nb", d$id, f, "CLABSI", s$period[i]),
          model = "clabsi-nb", detector = d$id, facility_id = f, period = s$period[i], signal_start = s$period[r$start[i]],
          observed = s$events[i], expected = num(s$e[i]), sir = num(s$events[i] / s$e[i]), sir_lower = num(ci[1]),
          sir_upper = num(ci[2]), statistic = num(r$stat[i]), threshold = num(r$thr[i]))
      }
    }
  }
  # ssi-logit: logistic on 2023 patients, monitored from 2024-01-01, in (time, arrival) order.
  pb <- pat[pat$time <= "2023-12-31", ]
  alev <- byteSort(pb$asa)
  pb$asa <- factor(pb$asa, levels = alev)
  lfit <- glm(outcome ~ age + asa, family = binomial, data = pb, control = glm.control(epsilon = 1e-8, maxit = 25))
  pm <- pat[pat$time > "2023-12-31", ]
  pm$asa <- factor(pm$asa, levels = alev)
  pm$p <- predict(lfit, newdata = pm, type = "response")
  for (f in byteSort(pm$facility_id)) {
    s <- pm[pm$facility_id == f, ]; s <- s[order(s$time, s$arrival), ]
    label <- paste0(s$time, "#", s$episode_id)
    r <- runDetector("bernoulli", list(r = 2, h = 3.5, reset = "zero"), s$outcome, s$p, s$p * (1 - s$p), seq_len(nrow(s)), cooldown = 5)
    trace[[length(trace) + 1]] <- data.frame(model = "ssi-logit", detector = "racusum", facility_id = f, measure = "SSI_COLO",
      period = label, observed = s$outcome, expected = num(s$p), statistic = num(r$stat), threshold = num(r$thr),
      signal = as.integer(r$sig))
    for (i in which(r$raised)) {
      run <- r$start[i]:i; o <- sum(s$outcome[run]); e <- sum(s$p[run]); ci <- midp(o, e)
      alerts[[length(alerts) + 1]] <- data.frame(id = alertId("ssi-logit", "racusum", f, "SSI_COLO", label[i]),
        model = "ssi-logit", detector = "racusum", facility_id = f, period = label[i], signal_start = label[r$start[i]],
        observed = o, expected = num(e), sir = num(o / e), sir_lower = num(ci[1]), sir_upper = num(ci[2]),
        statistic = num(r$stat[i]), threshold = num(r$thr[i]))
    }
  }
  list(trace = do.call(rbind, trace), alerts = do.call(rbind, alerts), theta = theta)
}

state1 <- evaluateState(file1, pat1)

## File 2: the late H007 month; a revision that withdraws the first negbin_cusum alert (events -> 0 in its
## signalling period); a revised patient episode (same episode id, outcome flipped) of P03.
a1 <- state1$alerts[state1$alerts$detector == "nb", ]
a1 <- a1[order(a1$id), ][1, ]
revised <- agg[agg$facility_id == a1$facility_id & agg$period == a1$period, ]
revised$events <- 0
file2 <- rbind(agg[late, ], revised)
p3 <- pat1[pat1$facility_id == "P03" & pat1$time >= "2024-06-01" & pat1$outcome == 1, ]
p3 <- p3[order(p3$time, p3$arrival), ][1, ]
p3$outcome <- 0
pat2 <- p3[, names(pat)]

final <- rbind(file1[!(file1$facility_id == revised$facility_id & file1$period == revised$period), ], file2)
patFinal <- pat1[pat1$episode_id != p3$episode_id, ]
p3$arrival <- nrow(pat1) + 1
patFinal <- rbind(patFinal, p3)
state2 <- evaluateState(final, patFinal)

w <- function(x, f) write.csv(x, f, row.names = FALSE, quote = FALSE)
w(file1, "inputs/1-clabsi.csv"); w(pat1[, names(pat)], "inputs/1-ssi.csv")
w(file2, "inputs/2-clabsi-revisions.csv"); w(pat2, "inputs/2-ssi-revisions.csv")
w(state1$alerts, "expected/alerts-after-1.csv")
w(state2$alerts, "expected/alerts-final.csv")
w(state2$trace, "expected/trace-final.csv")
cat(sprintf("theta after file 1: %.6f, final: %.6f; alerts after 1: %d, final: %d; revised %s %s, patient %s\n",
            state1$theta, state2$theta, nrow(state1$alerts), nrow(state2$alerts), revised$facility_id, revised$period, p3$episode_id))
