"""``robot init``: where a floating-base robot's IMU is (a site of its base, or one added)."""

from __future__ import annotations

from typing import Any

import mujoco

from sim2real.errors import SpecError
from sim2real.robots.init_actuators import object_name

__all__ = ["infer_imu"]


_INERTIAL_SENSORS = {
    int(mujoco.mjtSensor.mjSENS_GYRO),
    int(mujoco.mjtSensor.mjSENS_ACCELEROMETER),
    int(mujoco.mjtSensor.mjSENS_FRAMEQUAT),
}
"""Sensor types that mark a site as the model's IMU."""


def infer_imu(
    model: mujoco.MjModel, base: int, site: str | None, inferred: list[str], check: list[str]
) -> dict[str, Any]:
    """The spec's ``sensors.imu`` section for a floating base body ``base``.

    ``site`` (the user's choice) must be on the base or a body welded to it; else a site there:
    one the model's own gyro, accelerometer or orientation sensor uses first, then one named
    ``*imu*``, then one square to its body (not an eye or a marker turned on it), the base's own
    before a welded body's; else a site added at the
    base's origin under a name the model does not use.  What was chosen is appended to ``inferred``,
    what the user must check to ``check``.

    Raises:
        SpecError: ``site`` is not in the model, or moves against the base.
    """
    S = mujoco.mjtObj.mjOBJ_SITE
    if site is not None:
        sid = mujoco.mj_name2id(model, S, site)
        if sid < 0:
            raise SpecError(f"IMU site '{site}' is not in the model")
        if int(model.body_weldid[model.site_bodyid[sid]]) != int(model.body_weldid[base]):
            body = object_name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.site_bodyid[sid]))
            raise SpecError(
                f"IMU site '{site}' is on body '{body}', which moves against the base body "
                f"'{object_name(model, mujoco.mjtObj.mjOBJ_BODY, base)}': the IMU must be on the base or a body welded to it"
            )
        inferred.append(f"IMU on site '{site}' (your choice)")
        return {"site": site, "gyro_noise_density": 0.0, "accel_noise_density": 0.0}
    # sites on the base or on a body welded to it (an IMU board without a joint: Fourier N1's imu_link)
    weld = int(model.body_weldid[base])
    sites = [
        s
        for s in range(model.nsite)
        if int(model.body_weldid[model.site_bodyid[s]]) == weld and object_name(model, S, s)
    ]
    inertial = {
        int(model.sensor_objid[i])
        for i in range(model.nsensor)
        if int(model.sensor_objtype[i]) == int(S) and int(model.sensor_type[i]) in _INERTIAL_SENSORS
    }
    sites.sort(
        key=lambda s: (
            s not in inertial,  # the model's own gyro or accelerometer sits there
            "imu" not in object_name(model, S, s).lower(),
            abs(float(model.site_quat[s][0])) < 1.0 - 1e-9,  # turned against its body (an eye, a marker)
            int(model.site_bodyid[s]) != base,
        )
    )
    if sites:
        name = object_name(model, S, sites[0])
        body = object_name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.site_bodyid[sites[0]]))
        where = (
            "the base body"
            if int(model.site_bodyid[sites[0]]) == base
            else f"body '{body}', welded to the base"
        )
        inferred.append(f"IMU on site '{name}' of {where}")
        check.append(f"the IMU site '{name}' is where your robot's IMU is")
        return {"site": name, "gyro_noise_density": 0.0, "accel_noise_density": 0.0}
    base_name = object_name(model, mujoco.mjtObj.mjOBJ_BODY, base)
    taken = {object_name(model, S, s) for s in range(model.nsite)}
    name = next(
        n
        for n in ("imu", f"{base_name}_imu", *(f"{base_name}_imu_{k}" for k in range(1, 100)))
        if n not in taken
    )
    elsewhere = {
        object_name(model, S, s): object_name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.site_bodyid[s]))
        for s in range(model.nsite)
        if "imu" in object_name(model, S, s).lower()
    }
    inferred.append(f"IMU: adds site '{name}' at the origin of body '{base_name}' (an override)")
    check.append(
        "the added IMU site's position (sensors.imu.pos, in the base body's frame)"
        + (
            f"; the model's IMU sites ({', '.join(sorted(elsewhere))}) are not on the base body: "
            + ", ".join(f"{n} is on {b}" for n, b in sorted(elsewhere.items()))
            + ", which moves against it (a joint between them)"
            if elsewhere
            else ""
        )
    )
    return {
        "site": name,
        "add_to": base_name,
        "pos": [0.0, 0.0, 0.0],
        "gyro_noise_density": 0.0,
        "accel_noise_density": 0.0,
    }
