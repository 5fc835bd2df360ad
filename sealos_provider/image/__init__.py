"""The cluster image, pure and local: Kubefile model, typed env, Go-template rendering, hook scripts, artifact slots.

Nothing here imports pulumi or the remote layer, and importing a module has no side effects. Entry points:
`kubefile.parse_kubefile`, `env.RootfsEnv`, `render.render_template` / `render.render_tree`, `hooks.hook_script`,
`artifacts.ArtifactStore`, `rootfs.RootfsImage`.
"""
