# rms::Predict (partial effects with datadist) of an lrm fit, one predictor at a time.
# Rscript predict.R DATA.csv FORMULA FACTORS OUT.csv VAR [VAR ...]
# Writes OUT.csv with columns predictor, value, yhat, lower, upper.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[3])) for (v in strsplit(args[3], ",")[[1]]) d[[v]] <- factor(d[[v]])
dd <- datadist(d)
options(datadist = "dd")
# eps 1e-10: converged beyond lrm's default deviance change of 0.025
f <- lrm(as.formula(args[2]), data = d, tol = 1e-12, eps = 1e-10, maxit = 50)
rows <- list()
for (v in args[-(1:4)]) {
  p <- as.data.frame(do.call(Predict, list(f, as.name(v))))
  rows[[length(rows) + 1]] <- data.frame(predictor = v, value = as.character(p[[v]]),
                                         yhat = p$yhat, lower = p$lower, upper = p$upper)
}
write.csv(do.call(rbind, rows), args[4], row.names = FALSE)
