# rms::summary (inter-quartile effects with datadist) of an lrm or cph fit.
# Rscript summary.R DATA.csv lrm|cph FORMULA FACTORS OUT.csv
# Writes OUT.csv with columns factor, low, high, effect, se (the effect rows).
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[4])) for (v in strsplit(args[4], ",")[[1]]) d[[v]] <- factor(d[[v]])
dd <- datadist(d)
options(datadist = "dd")
f <- if (args[2] == "lrm") lrm(as.formula(args[3]), data = d, tol = 1e-12) else
  cph(as.formula(args[3]), data = d, eps = 1e-10, iter.max = 50)
s <- summary(f)
keep <- s[, "Type"] == 1
write.csv(data.frame(factor = trimws(rownames(s)[keep]), low = s[keep, "Low"],
                     high = s[keep, "High"], effect = s[keep, "Effect"],
                     se = s[keep, "S.E."]), args[5], row.names = FALSE)
