# Reference values for the funnel plot limits (METHODS "Funnel plots", Spiegelhalter 2005), written as
# R computes them. Run from this directory: Rscript make-funnel.R
# Writes funnel-limits.csv (E, p, limit: Poisson exact with interpolation) and funnel-phi.csv (a panel of
# facilities' O and E, with the 10%-winsorized overdispersion phi in its header comment).

limit <- function(E, p) {
  r <- qpois(p, E)                                   # smallest r with F(r) >= p
  a <- (ppois(r, E) - p) / (ppois(r, E) - ppois(r - 1, E))
  pmax(0, (r - a) / E)
}
E <- c(0.3, 1, 1.7, 4, 9.5, 25, 60, 150, 400)
p <- c(0.001, 0.025, 0.975, 0.999)
grid <- expand.grid(p = p, E = E)[, c("E", "p")]
grid$limit <- mapply(limit, grid$E, grid$p)
write.csv(format(grid, digits = 17), "funnel-limits.csv", row.names = FALSE, quote = FALSE)

set.seed(20261201)
n <- 40
E <- round(rgamma(n, shape = 2, rate = 0.25), 3) + 0.2
O <- rnbinom(n, mu = E, size = 3)
z <- (O - E) / sqrt(E)
keep <- E >= 1                                       # E < 1 is shown apart and left out of phi
q <- quantile(z[keep], c(0.1, 0.9))                  # type 7, R's default
zw <- pmin(pmax(z[keep], q[1]), q[2])
phi <- mean(zw^2)
con <- file("funnel-phi.csv", "w")
writeLines(sprintf("# phi=%.17g (R %s)", phi, getRversion()), con)
write.csv(data.frame(observed = O, expected = format(E, digits = 17)), con, row.names = FALSE, quote = FALSE)
close(con)
