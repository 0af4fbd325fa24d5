module github.com/evroam/evroam

go 1.26.8
