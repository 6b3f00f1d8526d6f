"""StyleGAN-V's networks: layers, motion mapping, generator, discriminator."""
