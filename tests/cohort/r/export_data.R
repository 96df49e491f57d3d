# Write a data set shipped with an R package to CSV: Rscript export_data.R PACKAGE NAME OUT.csv
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(args[1], character.only = TRUE))
d <- get(args[2], envir = asNamespace(args[1]))
write.csv(d, args[3], row.names = FALSE)
