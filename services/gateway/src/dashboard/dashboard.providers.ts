import type { Provider, Type } from '@nestjs/common';
import type { Bus } from '@weai/messaging';
import { BUS } from '@weai/runtime';
import { DashboardOperatorHttpController } from '../adapters/dashboard-operator.http.controller';
import { DashboardOwnerHttpController } from '../adapters/dashboard-owner.http.controller';
import { DashboardHttpController } from '../adapters/dashboard.http.controller';
import { LiveFeeds } from './live-feeds';
import { DASHBOARD_ASSETS, loadDashboardAssets } from './static-assets';
import { StreamBrowser } from './stream-browser';
import { TelemetryReadModel } from './telemetry.read-model';

/** The web dashboard's controllers: its static pages and the owner and operator data it needs beyond the API. */
export const dashboardControllers: Type<unknown>[] = [DashboardHttpController, DashboardOwnerHttpController, DashboardOperatorHttpController];

/** Its read model (node telemetry), event browser and live feeds. */
export const dashboardProviders: Provider[] = [
  { provide: DASHBOARD_ASSETS, useFactory: () => loadDashboardAssets() },
  { provide: TelemetryReadModel, useFactory: (bus: Bus) => new TelemetryReadModel(bus), inject: [BUS] },
  { provide: StreamBrowser, useFactory: (bus: Bus) => new StreamBrowser(bus.jsm, bus.js), inject: [BUS] },
  { provide: LiveFeeds, useFactory: (bus: Bus, telemetry: TelemetryReadModel) => new LiveFeeds(bus, telemetry), inject: [BUS, TelemetryReadModel] },
];
