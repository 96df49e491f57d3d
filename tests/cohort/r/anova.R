# rms::anova (Wald chunk tests) of an lrm or cph fit.
# Rscript anova.R DATA.csv lrm|cph FORMULA FACTORS OUT.csv
# Writes OUT.csv with columns row (rms's label), chisq, df.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[4])) for (v in strsplit(args[4], ",")[[1]]) d[[v]] <- factor(d[[v]])
f <- if (args[2] == "lrm") lrm(as.formula(args[3]), data = d, tol = 1e-12) else
  cph(as.formula(args[3]), data = d, eps = 1e-10, iter.max = 50)
a <- anova(f)
write.csv(data.frame(row = rownames(a), chisq = unname(a[, "Chi-Square"]),
                     df = unname(a[, "d.f."])), args[5], row.names = FALSE)
