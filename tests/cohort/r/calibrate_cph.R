# rms::calibrate.cph with cmethod = "KM" over several seeds.
# Rscript calibrate_cph.R DATA.csv FORMULA FACTORS U M B SEED1,SEED2,... OUT.csv
# Writes OUT.csv with columns seed, group, mean_predicted, km, apparent, optimism,
# km_corrected, n.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[3])) for (v in strsplit(args[3], ",")[[1]]) d[[v]] <- factor(d[[v]])
u <- as.numeric(args[4])
f <- cph(as.formula(args[2]), data = d, x = TRUE, y = TRUE, surv = TRUE, time.inc = u,
         eps = 1e-10, iter.max = 50)
rows <- list()
for (s in as.integer(strsplit(args[7], ",")[[1]])) {
  set.seed(s)
  invisible(capture.output(cal <- calibrate(f, cmethod = "KM", u = u, m = as.integer(args[5]),
                                            B = as.integer(args[6]))))
  rows[[length(rows) + 1]] <- data.frame(seed = s, group = seq_len(nrow(cal)),
                                         mean_predicted = cal[, "mean.predicted"],
                                         km = cal[, "KM"], apparent = cal[, "index.orig"],
                                         optimism = cal[, "mean.optimism"],
                                         km_corrected = cal[, "KM.corrected"],
                                         n = cal[, "n"])
}
write.csv(do.call(rbind, rows), args[8], row.names = FALSE)
