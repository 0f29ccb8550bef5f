package main

import "fmt"

func (n *netCtx) runKad() error { return fmt.Errorf("kad scenario not implemented yet") }
