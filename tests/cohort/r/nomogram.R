# rms::nomogram of an lrm fit (datadist on the same data).
# Rscript nomogram.R DATA.csv FORMULA FACTORS OUT.csv
# Writes OUT.csv with columns variable, value, points; the row variable
# "(points per unit)" holds the scale in points.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[3])) for (v in strsplit(args[3], ",")[[1]]) d[[v]] <- factor(d[[v]])
dd <- datadist(d)
options(datadist = "dd")
f <- lrm(as.formula(args[2]), data = d, tol = 1e-12, eps = 1e-10, maxit = 50)
n <- nomogram(f)
rows <- list(data.frame(variable = "(points per unit)", value = "", points = attr(n, "info")$sc))
for (v in names(n)) {
  if (v %in% c("total.points", "lp")) next
  rows[[length(rows) + 1]] <- data.frame(variable = v, value = as.character(n[[v]][[v]]),
                                         points = n[[v]]$points)
}
write.csv(do.call(rbind, rows), args[4], row.names = FALSE)
