/** "C:\Games\x\game.exe" → "game.exe", "/usr/lib/xorg/Xorg" → "Xorg", "...\x64\game.exe" → "game.exe". */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}
