# Knots that rms::rcs places (Hmisc::rcspline.eval defaults).
# Rscript knots.R DATA.csv OUT.csv COLUMN:K [COLUMN:K ...]
# Writes OUT.csv with columns spec, knot (one row per knot, in order).
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(Hmisc))
d <- read.csv(args[1])
rows <- list()
for (spec in args[-(1:2)]) {
  parts <- strsplit(spec, ":")[[1]]
  k <- suppressWarnings(rcspline.eval(d[[parts[1]]], nk = as.integer(parts[2]),
                                      knots.only = TRUE))
  rows[[length(rows) + 1]] <- data.frame(spec = spec, knot = k)
}
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
