# rms penalised lrm and pentrace over a grid of penalties.
# Rscript pentrace.R DATA.csv FORMULA FACTORS PEN1,PEN2,... OUT_PREFIX PENALTY
# Writes OUT_PREFIX_trace.csv (penalty, df, aic, bic, aic_c), OUT_PREFIX_best.csv
# (penalty) and OUT_PREFIX_coef.csv (term, coef, se) of the fit at PENALTY.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[3])) for (v in strsplit(args[3], ",")[[1]]) d[[v]] <- factor(d[[v]])
f <- lrm(as.formula(args[2]), data = d, x = TRUE, y = TRUE, tol = 1e-12)
pens <- as.numeric(strsplit(args[4], ",")[[1]])
p <- pentrace(f, pens)
r <- p$results.all
write.csv(data.frame(penalty = r$penalty, df = r$df, aic = r$aic, bic = r$bic,
                     aic_c = r$aic.c), paste0(args[5], "_trace.csv"), row.names = FALSE)
write.csv(data.frame(penalty = p$penalty), paste0(args[5], "_best.csv"), row.names = FALSE)
g <- update(f, penalty = as.numeric(args[6]), eps = 1e-10, maxit = 50)
write.csv(data.frame(term = names(coef(g)), coef = unname(coef(g)),
                     se = unname(sqrt(diag(vcov(g))))),
          paste0(args[5], "_coef.csv"), row.names = FALSE)
