# rms::lrm fit and validate() over several seeds.
# Rscript validate_lrm.R DATA.csv FORMULA B SEED1,SEED2,... OUT_PREFIX [FACTORS]
# FACTORS: comma-separated columns turned into factors (first level = reference).
# Writes OUT_PREFIX_coef.csv (term, coef, se) and OUT_PREFIX_validate.csv
# (seed, index, apparent, corrected, n, seconds, cpu_seconds).
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (length(args) >= 6) for (v in strsplit(args[6], ",")[[1]]) d[[v]] <- factor(d[[v]])
f <- lrm(as.formula(args[2]), data = d, x = TRUE, y = TRUE)
B <- as.integer(args[3])
seeds <- as.integer(strsplit(args[4], ",")[[1]])
write.csv(data.frame(term = names(coef(f)), coef = unname(coef(f)),
                     se = unname(sqrt(diag(vcov(f))))),
          paste0(args[5], "_coef.csv"), row.names = FALSE)
rows <- list()
if (B > 0) for (s in seeds) {
  set.seed(s)
  st <- system.time(invisible(capture.output(v <- validate(f, B = B))))
  t <- st[["elapsed"]]
  cpu <- st[["user.self"]] + st[["sys.self"]]
  rows[[length(rows) + 1]] <- data.frame(seed = s, index = rownames(v),
                                         apparent = v[, "index.orig"],
                                         corrected = v[, "index.corrected"],
                                         n = v[, "n"], seconds = t, cpu_seconds = cpu)
}
if (length(rows)) write.csv(do.call(rbind, rows), paste0(args[5], "_validate.csv"),
                            row.names = FALSE)
