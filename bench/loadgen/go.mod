module floodgate.local/bench/loadgen

go 1.22
