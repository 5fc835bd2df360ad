module sealos-provider.local/nodedouble

go 1.21
