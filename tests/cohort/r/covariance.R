# Robust (robcov, lrm only) and bootstrap (bootcov) standard errors.
# Rscript covariance.R DATA.csv lrm|cph FORMULA FACTORS B SEED1,SEED2,... OUT.csv
# Writes OUT.csv with columns kind (robust or bootstrap), seed, term, se, n.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[4])) for (v in strsplit(args[4], ",")[[1]]) d[[v]] <- factor(d[[v]])
f <- if (args[2] == "lrm") lrm(as.formula(args[3]), data = d, x = TRUE, y = TRUE,
                               tol = 1e-12, eps = 1e-10, maxit = 50) else
  cph(as.formula(args[3]), data = d, x = TRUE, y = TRUE, eps = 1e-10, iter.max = 50)
rows <- list()
if (args[2] == "lrm") {
  r <- robcov(f)
  rows[[1]] <- data.frame(kind = "robust", seed = NA, term = names(coef(r)),
                          se = sqrt(diag(vcov(r))), n = NA)
}
for (s in as.integer(strsplit(args[6], ",")[[1]])) {
  set.seed(s)
  b <- suppressWarnings(bootcov(f, B = as.integer(args[5])))
  rows[[length(rows) + 1]] <- data.frame(kind = "bootstrap", seed = s, term = names(coef(b)),
                                         se = sqrt(diag(vcov(b))), n = nrow(b$boot.Coef))
}
write.csv(do.call(rbind, rows), args[7], row.names = FALSE)
