module kip.invalid/realkind/kindconst

go 1.23.0
