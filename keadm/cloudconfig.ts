/** The cloud's config as keadm reads it on the cloud host: checked as cloudcore checks it, with the files it names. */
import { loadConfig, ConfigReadError } from '../core/configfile.js';
import { CLOUDCORE_KEYS } from '../api/config/cloudcore-keys.js';
import { cloudCoreSchema, cloudFiles, type CloudCoreConfig } from '../api/config/cloudcore.js';
import { cloudPaths, type Dirs } from './paths.js';

export function readCloudConfig(dirs: Dirs): { config: CloudCoreConfig; files: ReturnType<typeof cloudFiles> } {
  const file = cloudPaths(dirs).config;
  try {
    const { config } = loadConfig(file, cloudCoreSchema, CLOUDCORE_KEYS);
    return { config, files: cloudFiles(config) };
  } catch (err) {
    if (err instanceof ConfigReadError && err.code === 'ENOENT') throw new Error(`no cloudcore config at ${file}; run "keadm init" first, or keadm on the cloud host (or pass --config-dir)`);
    if (err instanceof ConfigReadError && (err.code === 'EACCES' || err.code === 'EPERM')) throw new Error(`cannot read cloudcore config ${file}: permission denied; run keadm as root (sudo)`);
    throw err;
  }
}
