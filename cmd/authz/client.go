package main

import "context"

// runClient keeps `authz client …` as the short name of `authz admin client …`,
// the command of issue #3's bootstrap scripts.
func runClient(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 {
		return usageError("usage: authz [config flags] client create|list|get|update|delete|rotate-secret [flags]")
	}
	return runAdmin(ctx, env, append([]string{"client"}, args...))
}
