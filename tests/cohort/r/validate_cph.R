# rms::cph fit, predicted risk and Austin 2020 ICI at a horizon, validate() over seeds.
# Rscript validate_cph.R DATA.csv FORMULA B SEED1,SEED2,... OUT_PREFIX FACTORS HORIZON
# FORMULA's response is Surv(time, status) with status 0/1; FACTORS: comma-separated
# columns made factors ("" for none). Writes OUT_PREFIX_coef.csv (term, coef, se,
# loglik0, loglik), _risk.csv (risk by HORIZON for each row used), _ici.csv
# (ici, e50, e90) and _validate.csv (seed, index, apparent, corrected, n, seconds, cpu_seconds).
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rms))
d <- read.csv(args[1])
if (nzchar(args[6])) for (v in strsplit(args[6], ",")[[1]]) d[[v]] <- factor(d[[v]])
horizon <- as.numeric(args[7])
# eps 1e-10: the fit converged beyond cph's default 1e-4, so it can be compared to 1e-6
f <- cph(as.formula(args[2]), data = d, x = TRUE, y = TRUE, surv = TRUE, eps = 1e-10,
         iter.max = 50)
write.csv(data.frame(term = names(coef(f)), coef = unname(coef(f)),
                     se = unname(sqrt(diag(vcov(f)))), loglik0 = f$loglik[1],
                     loglik = f$loglik[2]),
          paste0(args[5], "_coef.csv"), row.names = FALSE)
# predicted risk by the horizon and Austin, Harrell & van Klaveren (2020)'s
# Cox-model calibration: cph on rcs(log(-log(1 - risk)), 3)
risk <- 1 - survest(f, times = horizon, conf.int = 0)$surv
write.csv(data.frame(risk = risk), paste0(args[5], "_risk.csv"), row.names = FALSE)
y <- f$y
# risks are kept within [1e-12, 1 - 1e-12] (a risk of exactly 1 has no cll)
pc <- pmin(pmax(risk, 1e-12), 1 - 1e-12)
cal <- data.frame(time = y[, 1], status = y[, 2], cll = log(-log(1 - pc)))
g <- cph(Surv(time, status) ~ rcs(cll, 3), data = cal, x = TRUE, y = TRUE, surv = TRUE,
         eps = 1e-10, iter.max = 50)
observed <- 1 - survest(g, newdata = cal, times = horizon, conf.int = 0)$surv
err <- abs(pc - observed)
write.csv(data.frame(ici = mean(err), e50 = median(err), e90 = unname(quantile(err, 0.9))),
          paste0(args[5], "_ici.csv"), row.names = FALSE)
B <- as.integer(args[3])
rows <- list()
if (B > 0) for (s in as.integer(strsplit(args[4], ",")[[1]])) {
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
